"""Deterministic free-text matching of a predicted root cause against a label.

Normalisation (both sides): Unicode NFKC, lower case, then tokens are dotted version
numbers (``1.9.0``) or runs of ``[a-z0-9]``; everything else (punctuation, ``-``, ``_``,
``:``) separates tokens. Stop words (``a``, ``the``, ``of``, ``in`` ...) are dropped. A
light suffix stemmer folds ``exhausted``/``exhaustion``/``exhausting`` -> ``exhaust``
(``ies`` -> ``y``, else suffixes ``ions ion ing ed es s``, only on alphabetic tokens
longer than 4 characters, keeping at least 4).

Generic tokens are words every scenario of the shared topology uses (``orders``,
``api``, ``db``, ``pod``, ``service``, ``error``, ``slow``, ``timeout``, ...) plus bare
numbers of fewer than three digits; they never make a match on their own.

Root-cause match rules, first hit wins:

R1 phrase
    A label phrase - the ``root_cause`` sentence, each ``root_cause_aliases`` entry, the
    ``root_cause_component`` and the ``fault_type`` read as words - occurs in the text as
    a contiguous run of stemmed tokens, or its raw tokens glued together (at least 6
    characters) equal a run of the text's raw tokens glued together, optionally followed
    by ``s``/``error``/``exception`` (``NullPointerException`` = ``null pointer
    exception``, ``OutOfMemoryError`` names ``out of memory``). A phrase whose tokens
    are all generic never matches (so ``resource exhaustion`` alone names nothing).
R2 token overlap
    The text's non-generic stemmed tokens overlap those of the label's ``root_cause`` and
    ``root_cause_component`` in at least 3 tokens, and the overlap is at least half of the
    text's non-generic tokens (a long text that mentions everything does not match).

No-incident answers (for any label): the text starts with one of ``none``, ``no
incident``, ``no anomaly``, ``no issue``, ``no fault``, ``no problem``, ``no root
cause``, ``nothing found``, ``nothing wrong``, ``healthy``, ``normal operation``,
``all normal`` (as raw tokens), or it equals one of the no-incident label's aliases.

Component credit: the label's component's non-generic stemmed tokens - at least
``min(2, count)`` of them occur in the text - or the fault type phrase occurs (R1 on
that phrase alone). Layer credit: the text names a word of the label layer's vocabulary
(:data:`LAYER_WORDS`).

Negation is not understood: ``not a bad deployment`` names a bad deployment. Reports are
expected to state their answer affirmatively in the hypothesis title.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rca.seed.mock_incident_generator import GroundTruth

_TOKEN = re.compile(r"\d+(?:\.\d+)+|[a-z0-9]+")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = _words(
    """a an the of in on at to by for and or with from under over after before into
    during due as is was were be been being are its it this that these those which
    who whose than then so because caused cause causes causing root rca via per while
    when has have had became become becomes led leads leading too very"""
)

# Words the shared topology puts in every scenario's story; they identify no fault.
GENERIC = _words(
    """orders order api apis shop service services web ui nginx mesh istio envoy proxy
    sidecar pod pods k8s kubernetes cluster node nodes db database postgres postgresql
    sql server app application backend frontend request requests response responses
    error errors failure failures fail failed failing issue issues problem problems
    incident incidents outage degradation degraded high higher low latency slow slower
    timeout timeouts timed 5xx 500 502 503 504 http user users customer customers
    traffic load system systems component components resource resources exhaust
    exhaustion exhausted"""
)

NO_INCIDENT_PHRASES: tuple[tuple[str, ...], ...] = (
    ("none",),
    ("no", "incident"),
    ("no", "incidents"),
    ("no", "anomaly"),
    ("no", "anomalies"),
    ("no", "issue"),
    ("no", "issues"),
    ("no", "fault"),
    ("no", "problem"),
    ("no", "problems"),
    ("no", "root", "cause"),
    ("nothing", "found"),
    ("nothing", "wrong"),
    ("healthy",),
    ("normal", "operation"),
    ("all", "normal"),
)

# A word of the label layer's vocabulary earns half the layer/component credit.
LAYER_WORDS: dict[str, frozenset[str]] = {
    "ui": _words("ui web nginx frontend browser page pages"),
    "api": _words("api application app service jvm java spring hikari hikaricp heap code"),
    "db": _words("db database postgres postgresql sql query queries index table"),
    "k8s": _words("k8s kubernetes pod pods container containers node kubelet deployment"),
    "mesh": _words("mesh istio envoy sidecar proxy"),
}

R2_MIN_OVERLAP = 3
R2_MIN_SHARE = 0.5


def raw_tokens(text: str) -> list[str]:
    """Lower-cased tokens, punctuation removed, stop words kept."""
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).lower())


def stem(token: str) -> str:
    if len(token) <= 4 or not token.isalpha():
        return token
    if token.endswith("ies"):
        return token[:-3] + "y"
    for suffix in ("ions", "ion", "ing", "ed", "es", "s"):
        if token.endswith(suffix) and len(token) - len(suffix) >= 4:
            return token[: -len(suffix)]
    return token


def content_tokens(text: str) -> list[str]:
    """Raw tokens without stop words (used for glued matching)."""
    return [t for t in raw_tokens(text) if t not in STOPWORDS]


def stems(text: str) -> list[str]:
    return [stem(t) for t in content_tokens(text)]


_GENERIC_STEMS = frozenset(stem(t) for t in GENERIC)


def is_generic(token: str) -> bool:
    if token in GENERIC or token in _GENERIC_STEMS:
        return True
    return token.isdigit() and len(token) < 3


def discriminative(text: str) -> set[str]:
    return {t for t in stems(text) if not is_generic(t)}


def _contains_run(hay: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(hay):
        return False
    return any(list(hay[i : i + n]) == list(needle) for i in range(len(hay) - n + 1))


GLUE_SUFFIXES = ("", "s", "error", "exception")


def _glued_run(hay: Sequence[str], glued: str) -> bool:
    """Some run of consecutive tokens of ``hay``, glued together, equals ``glued``.

    The run may end in one of :data:`GLUE_SUFFIXES` (``OutOfMemoryError`` names
    ``out of memory``).
    """
    wanted = {glued + s for s in GLUE_SUFFIXES}
    longest = max(len(w) for w in wanted)
    for i in range(len(hay)):
        acc = ""
        for tok in hay[i:]:
            acc += tok
            if acc in wanted:
                return True
            if len(acc) >= longest or not (glued.startswith(acc) or acc.startswith(glued)):
                break
    return False


@dataclass(frozen=True, slots=True)
class _Text:
    raw: list[str]
    content: list[str]
    stems: list[str]

    @classmethod
    def of(cls, text: str) -> _Text:
        content = content_tokens(text)
        return cls(raw_tokens(text), content, [stem(t) for t in content])


def phrase_in(phrase: str, text: _Text | str) -> bool:
    """Rule R1 for one phrase."""
    t = text if isinstance(text, _Text) else _Text.of(text)
    p = _Text.of(phrase)
    if not p.stems or all(is_generic(s) for s in p.stems):
        return False
    if _contains_run(t.stems, p.stems):
        return True
    glued = "".join(p.raw)
    return len(glued) >= 6 and _glued_run(t.raw, glued)


def label_phrases(truth: GroundTruth) -> list[tuple[str, str]]:
    """(kind, phrase) pairs of R1, in the order they are tried."""
    out: list[tuple[str, str]] = [("root_cause", truth.root_cause)]
    out += [("alias", a) for a in truth.root_cause_aliases]
    if truth.root_cause_component:
        out.append(("component", truth.root_cause_component))
    if truth.fault_type and truth.fault_type != "none":
        out.append(("fault_type", truth.fault_type.replace("_", " ")))
    return out


def match_root_cause(text: str, truth: GroundTruth) -> str | None:
    """The rule that matched (e.g. ``alias:memory leak``), or None. Incident labels only."""
    if not truth.incident:
        return None
    t = _Text.of(text)
    for kind, phrase in label_phrases(truth):
        if phrase_in(phrase, t):
            return f"{kind}:{phrase}"
    have = {s for s in t.stems if not is_generic(s)}
    want = discriminative(truth.root_cause) | discriminative(truth.root_cause_component or "")
    overlap = have & want
    if len(overlap) >= R2_MIN_OVERLAP and len(overlap) >= R2_MIN_SHARE * len(have):
        return "token_overlap:" + ",".join(sorted(overlap))
    return None


def is_no_incident(text: str, extra_aliases: Iterable[str] = ()) -> bool:
    raw = raw_tokens(text)
    if not raw:
        return False
    for phrase in NO_INCIDENT_PHRASES:
        if tuple(raw[: len(phrase)]) == phrase:
            return True
    return any(raw == raw_tokens(a) for a in extra_aliases)


def component_credit(text: str, truth: GroundTruth) -> float:
    """1.0 component or fault type named; 0.5 layer named; else 0."""
    if not truth.incident:
        return 0.0
    t = _Text.of(text)
    want = discriminative(truth.root_cause_component or "")
    have = set(t.stems)
    if want and len(want & have) >= min(2, len(want)):
        return 1.0
    if truth.fault_type != "none" and phrase_in(truth.fault_type.replace("_", " "), t):
        return 1.0
    layer = truth.root_cause_layer
    if layer is not None and LAYER_WORDS[layer] & set(t.raw):
        return 0.5
    return 0.0
