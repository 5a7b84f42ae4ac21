"""Time-ordered, streaming output of one log file.

Renderers add entries (an instant, text that may span lines, signal keys) in roughly
time order; the sink keeps them pending and writes out everything older than the
simulation's watermark, so memory is bounded by a minute or so of traffic whatever the
window's length. Ties keep insertion order, which is deterministic.

While writing, the sink numbers lines, hashes bytes, and indexes *signals*: for each
signal key (``api.hikari_timeout``, ``mesh.504.UT`` ...) the first line that shows it,
how often it occurred and when. Ground truth is built from that index, so every
evidence pointer is a line this very pass wrote.

A sink may be given a window, ``[from_us, until_us)``: entries stamped outside it are
dropped as they are added, so no line of a bundle lies outside the bundle's window
whatever a renderer schedules (a checkpoint that completes after the end, a reconnect
due at the simulation's last tick).

``Sink`` is the reference. With the native engine, ``new_sink`` returns its compiled
twin (``_simcore.Sink``): the same writes, bytes and index, and the compiled request
handlers of the busiest renderers add to it without a Python call.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from dataclasses import dataclass
from typing import IO, Any, Protocol

# Entries per write: the same buffer size at any rate, small enough to stay in cache
# while it is encoded, hashed and copied.
WRITE_EVERY = 512


@dataclass(slots=True)
class SignalHit:
    signal: str
    line: int
    text: str
    t_us: int
    request_id: str | None
    count: int = 1
    last_t_us: int = 0


class LineSink(Protocol):
    """What renderers and the pipeline use of a sink (``Sink`` or ``_simcore.Sink``)."""

    @property
    def file(self) -> str: ...
    @property
    def sha(self) -> Any: ...  # a hashlib.sha256 object
    @property
    def bytes(self) -> int: ...
    @property
    def lines(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def signals(self) -> dict[str, SignalHit]: ...

    def add(
        self, t_us: int, text: str, keys: tuple[str, ...] = (), request_id: str | None = None
    ) -> None: ...
    def flush_before(self, watermark_us: int) -> None: ...
    def close(self) -> None: ...


EVERY_INSTANT = (-(1 << 63), (1 << 63) - 1)


def new_sink(
    file: str, out: IO[bytes] | None, engine: str, window: tuple[int, int] = EVERY_INSTANT
) -> LineSink:
    """The compiled sink for the ``native`` engine, else the reference."""
    if engine == "native":
        from . import _simcore

        return _simcore.Sink(file, out, hashlib.sha256(), SignalHit, *window)
    return Sink(file, out, window)


class Sink:
    __slots__ = (
        "_buf",
        "_from",
        "_out",
        "_pending",
        "_seq",
        "_until",
        "bytes",
        "file",
        "lines",
        "records",
        "sha",
        "signals",
    )

    def __init__(
        self, file: str, out: IO[bytes] | None, window: tuple[int, int] = EVERY_INSTANT
    ) -> None:
        self.file = file
        self._from, self._until = window
        self._out = out
        self._pending: list[tuple[int, int, str, tuple[str, ...], str | None]] = []
        self._seq = 0
        self._buf: list[str] = []
        self.sha = hashlib.sha256()
        self.lines = 0
        self.records = 0
        self.bytes = 0
        self.signals: dict[str, SignalHit] = {}

    def add(
        self, t_us: int, text: str, keys: tuple[str, ...] = (), request_id: str | None = None
    ) -> None:
        if not self._from <= t_us < self._until:
            return  # outside the window: never written, never indexed
        self._seq += 1
        self._pending.append((t_us, self._seq, text, keys, request_id))

    def flush_before(self, watermark_us: int) -> None:
        # Entries arrive almost in order, so one timsort per flush is near-linear and far
        # cheaper than a heap push and pop per line.
        pending = self._pending
        pending.sort()
        cut = bisect_left(pending, (watermark_us,))
        ready, self._pending = pending[:cut], pending[cut:]
        buf = self._buf
        signals = self.signals
        for t_us, _, text, keys, rid in ready:
            line = self.lines + 1
            self.records += 1
            # Nearly every entry is one line: `in` (a memchr) is far cheaper than `count`.
            self.lines += text.count("\n") + 1 if "\n" in text else 1
            buf.append(text)
            for key in keys:
                hit = signals.get(key)
                if hit is None:
                    first = text.split("\n", 1)[0]
                    signals[key] = SignalHit(key, line, first, t_us, rid, 1, t_us)
                else:
                    hit.count += 1
                    hit.last_t_us = t_us
            if len(buf) >= WRITE_EVERY:
                self._write()

    def _write(self) -> None:
        if not self._buf:
            return
        data = ("\n".join(self._buf) + "\n").encode()
        self._buf.clear()
        self.sha.update(data)
        self.bytes += len(data)
        if self._out is not None:
            self._out.write(data)

    def close(self) -> None:
        self.flush_before(1 << 62)
        self._write()
