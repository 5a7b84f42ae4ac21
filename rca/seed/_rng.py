"""Stable, per-purpose random generators.

Python only promises that ``Random.random()`` repeats across versions, so every
distribution here is built on ``random()`` alone (no ``randint``/``choice``/``gauss``).
Seeds come from SHA-256 of a readable string, never from ``hash()``.
"""

from __future__ import annotations

import hashlib
import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from statistics import NormalDist
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Identifier alphabet Kubernetes uses for generated names (no vowels, no 0/1/3).
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def derive_seed(*parts: object) -> int:
    """A 64-bit seed from the parts, stable across processes and Python versions."""
    text = "/".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


_ZN = 4096
# Standard-normal quantiles at (i + 0.5) / _ZN, plus one end point for interpolation.
_Z = [NormalDist().inv_cdf((i + 0.5) / _ZN) for i in range(_ZN)] + [
    NormalDist().inv_cdf((_ZN - 0.25) / _ZN)
]
Z_TABLE = tuple(_Z)  # the same table, for the compiled simulation core


class Rng:
    """A seeded generator whose draws are all derived from ``random()``."""

    __slots__ = ("_r", "random")

    def __init__(self, *parts: object) -> None:
        self._r = random.Random(derive_seed(*parts))
        self.random = self._r.random

    def state(self) -> tuple[int, ...]:
        """The Mersenne Twister's 624 words and position (``random.Random.getstate``)."""
        words: tuple[int, ...] = self._r.getstate()[1]
        return words

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``."""
        return int(self.random() * n)

    def between(self, low: int, high: int) -> int:
        """An integer in ``[low, high]``."""
        return low + int(self.random() * (high - low + 1))

    def chance(self, p: float) -> bool:
        return self.random() < p

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def exponential(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.random())

    def normal(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        # Box-Muller, one value per call: simple and version-proof.
        u1 = 1.0 - self.random()
        u2 = self.random()
        return mu + sigma * math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def lognormal(self, median: float, sigma: float) -> float:
        """Heavy-tailed latency: ``median`` is the 50th percentile.

        The normal deviate comes from an inverse-CDF table with linear interpolation:
        one ``random()`` and one ``exp`` per draw (the hot path of every request), exact
        to about 1e-4 in z and covering +-3.7 sigma.
        """
        x = self.random() * _ZN
        i = int(x)
        z = _Z[i] + (x - i) * (_Z[i + 1] - _Z[i])
        return median * math.exp(sigma * z)

    def step_us(self, typical_us: int) -> int:
        """How long one step of a chain of system events takes (an API round trip, a
        container-runtime call, a goroutine waking up): ``typical_us`` give or take, so
        consecutive log lines share no constant offset or sub-millisecond digits."""
        return max(1, int(self.lognormal(typical_us, 0.35)))

    def token(self, n: int, alphabet: str = K8S_ALPHABET) -> str:
        return "".join(alphabet[int(self.random() * len(alphabet))] for _ in range(n))

    def template_hash(self) -> str:
        """A ReplicaSet's pod-template-hash as Kubernetes writes it: the FNV-32a hash of
        the pod template in decimal, each digit's code point mapped into the safe
        alphabet, so 1-10 characters (mostly 10) of ``45678 9bcdf`` only (kubernetes
        pkg/controller/controller_utils.go ``ComputeHash``; apimachinery
        pkg/util/rand/rand.go ``SafeEncodeString``)."""
        digits = str(self.below(1 << 32))
        return "".join(K8S_ALPHABET[ord(c) % len(K8S_ALPHABET)] for c in digits)

    def hexstr(self, n: int) -> str:
        return "".join("0123456789abcdef"[int(self.random() * 16)] for _ in range(n))


class WeightedPicker(Generic[T]):
    """Draws items by weight with one ``random()`` call (cumulative table + bisect)."""

    __slots__ = ("_cum", "_items", "_total")

    def __init__(self, weighted: Sequence[tuple[T, float]]) -> None:
        self._items = [item for item, _ in weighted]
        self._cum = list(accumulate(w for _, w in weighted))
        self._total = self._cum[-1]

    def __call__(self, rng: Rng) -> T:
        return self._items[bisect_right(self._cum, rng.random() * self._total)]

    @property
    def items(self) -> tuple[T, ...]:
        return tuple(self._items)

    @property
    def cumulative(self) -> tuple[float, ...]:
        return tuple(self._cum)


class IdSource:
    """Request/trace/span ids: keyed BLAKE2b of a counter.

    Ids are independent of any RNG's consumption, so every stream derives the same id
    for the same request without sharing state.
    """

    __slots__ = ("_key", "_keyed")

    def __init__(self, *parts: object) -> None:
        self._key = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()[:32]
        # Keyed states per digest size, copied per id: same digests, no key set-up per call.
        self._keyed: dict[int, Any] = {}

    @property
    def key(self) -> bytes:
        return self._key

    def hex(self, kind: str, n: int, nbytes: int) -> str:
        base = self._keyed.get(nbytes)
        if base is None:
            base = self._keyed[nbytes] = hashlib.blake2b(key=self._key, digest_size=nbytes)
        h = base.copy()
        h.update(f"{kind}:{n}".encode())
        return h.hexdigest()
