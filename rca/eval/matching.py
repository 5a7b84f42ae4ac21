"""Deterministic free-text matching of a predicted root cause against a label.

Normalisation (both sides): Unicode NFKC, ``n't`` read as ``not``, lower case, then
tokens are dotted version numbers (``1.9.0``; ``v1.9.0`` is ``1.9.0``) or runs of
``[a-z0-9]``; everything else (punctuation, ``-``, ``_``, ``:``) separates tokens. Stop
words (``a``, ``the``, ``of``, ``in`` ...) are dropped. A light suffix stemmer folds
``exhausted``/``exhaustion``/``exhausting`` -> ``exhaust`` (``ies`` -> ``y``, else
suffixes ``ions ion ing ed es s``, only on alphabetic tokens longer than 4 characters,
keeping at least 4).

Generic tokens are words every scenario of the shared topology uses (``orders``,
``api``, ``db``, ``pod``, ``service``, ``error``, ``slow``, ``timeout``, ...) plus bare
numbers of fewer than three digits; they never make a match on their own.

Clauses and negation
    The text is cut into clauses at ``, ; : ! ? ( ) [ ]``, at a full stop followed by
    white space, at a spaced dash and before ``but``, ``however``, ``although``,
    ``though``, ``whereas``, ``yet``. A mention is *negated* when a negation cue
    (:data:`NEGATION_CUES`: ``not``, ``no``, ``never``, ``without``, ``nor``,
    ``neither``, ``unlikely``, ``ruled out``, ``rule out``, ``excluded``, ``instead of``,
    ``rather than`` ...) comes before its first token in the same clause. A negated
    mention names nothing: ``not the pool``, ``no sign of OOM``, ``ruled out the bad
    rollout``, ``unlikely to be the missing index``; in ``memory leak, not a bad
    rollout`` only the memory leak is named. A cue inside a phrase does not negate it
    (``Connection is not available`` is a phrase of the pool family).

Specific phrases
    A phrase can name something only if it is specific: it has a non-generic token, and
    it is either several tokens long (``bad rollout``, ``HikariCP pool exhausted``) or a
    single token declared in a family's vocabulary (``NPE``, ``OOMKilled``,
    ``NullPointerException``) or written as an identifier (mixed case, a digit or an
    underscore: ``DiscountCalculator``). So the one-word titles ``rollout``, ``oom``,
    ``timeout``, ``database`` match nothing, although ``rollout`` and ``oom`` are aliases
    in the labels.

Fault families (:func:`families`)
    A family is a ``fault_type`` of the registry's incident scenarios; its vocabulary is
    the fault type read as words plus every ``LabelSpec.synonyms`` entry of the
    scenarios of that type (declared beside each scenario's label; never a per-bundle
    drawn name). A text *names* a family when a specific phrase of its vocabulary occurs,
    not negated (R1 below); a text that matches one of the label's own phrases names the
    label's family too.

Root-cause match (:func:`match_root_cause`), for an incident label:

A ambiguity
    A text that names two or more families matches nothing: ``AMBIGUOUS_ROOT_CAUSE``
    (``pool exhaustion or OOM or bad rollout or missing index``).
B another family
    A text that names exactly one family, not the label's, does not match.
R1 phrase
    A label phrase - the ``root_cause`` sentence, each ``root_cause_aliases`` entry (the
    bundle's own names, drawn ones included), the ``root_cause_component`` and the
    ``fault_type`` read as words - or a phrase of the label's family vocabulary occurs in
    the text, specific and not negated, as a contiguous run of stemmed tokens, or its raw
    tokens glued together (at least 6 characters) equal a run of the text's raw tokens
    glued together, optionally followed by ``s``/``error``/``exception``
    (``NullPointerException`` = ``null pointer exception``, ``OutOfMemoryError`` names
    ``out of memory``).
R2 token overlap
    The text's non-generic, non-negated stemmed tokens overlap those of the label's
    ``root_cause`` and ``root_cause_component`` in at least 3 tokens, and the overlap is
    at least half of the text's non-generic tokens (a long text that mentions everything
    does not match).

No-incident answers (for any label): the text starts with one of ``none``, ``no
incident``, ``no anomaly``, ``no issue``, ``no fault``, ``no problem``, ``no root
cause``, ``nothing found``, ``nothing wrong``, ``healthy``, ``normal operation``,
``all normal`` (as raw tokens), or it equals one of the no-incident label's aliases.

Component credit: the label's component's non-generic stemmed tokens - at least
``min(2, count)`` of them occur in the text - or the fault type phrase occurs (R1 on
that phrase alone). Layer credit: the text names a word of the label layer's vocabulary
(:data:`LAYER_WORDS`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rca.seed import scenarios
from rca.seed.mock_incident_generator import GroundTruth

# A version may be written v1.9.0: the v is not part of the number.
_TOKEN = re.compile(r"(?<![a-z0-9])v(?=\d+(?:\.\d+)+)|(\d+(?:\.\d+)+|[a-z0-9]+)")
_NOT = re.compile(r"n['\u2019]t\b", re.IGNORECASE)
# Where a clause ends: punctuation, a full stop before white space, a spaced dash.
_CLAUSE_BREAK = re.compile(r"[,;:!?()\[\]]|\.(?=\s|$)|\s[-\u2013\u2014]+\s")
CLAUSE_WORDS = frozenset({"but", "however", "although", "though", "whereas", "yet"})
NEGATION_CUES: tuple[tuple[str, ...], ...] = (
    ("not",),
    ("no",),
    ("never",),
    ("without",),
    ("nor",),
    ("neither",),
    ("unlikely",),
    ("excluded",),
    ("exclude",),
    ("rejected",),
    ("ruled", "out"),
    ("rule", "out"),
    ("rules", "out"),
    ("ruling", "out"),
    ("instead", "of"),
    ("rather", "than"),
)


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


def _normal(text: str) -> str:
    return _NOT.sub(" not", unicodedata.normalize("NFKC", text)).lower()


def _tokens(text: str) -> list[str]:
    return [m for m in _TOKEN.findall(text) if m]


def raw_tokens(text: str) -> list[str]:
    """Lower-cased tokens, punctuation removed, stop words kept."""
    return _tokens(_normal(text))


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


GLUE_SUFFIXES = ("", "s", "error", "exception")


def _first_cue(raw: Sequence[str]) -> int:
    """Index of the first negation cue in a clause's raw tokens (len(raw) if none)."""
    for i in range(len(raw)):
        for cue in NEGATION_CUES:
            if tuple(raw[i : i + len(cue)]) == cue:
                return i
    return len(raw)


@dataclass(frozen=True, slots=True)
class _Clause:
    raw: list[str]
    stems: list[str]  # stems of the content tokens (stop words dropped)
    at: list[int]  # index in ``raw`` of each content token
    cue: int  # index in ``raw`` of the first negation cue (len(raw): none)

    @classmethod
    def of(cls, raw: list[str]) -> _Clause:
        at = [i for i, t in enumerate(raw) if t not in STOPWORDS]
        return cls(raw, [stem(raw[i]) for i in at], at, _first_cue(raw))

    def affirmed_stems(self) -> list[str]:
        return [s for s, i in zip(self.stems, self.at, strict=True) if i < self.cue]


def _clauses(text: str) -> list[_Clause]:
    out: list[_Clause] = []
    for piece in _CLAUSE_BREAK.split(_normal(text)):
        current: list[str] = []
        for tok in _tokens(piece):
            if tok in CLAUSE_WORDS and current:
                out.append(_Clause.of(current))
                current = []
            current.append(tok)
        if current:
            out.append(_Clause.of(current))
    return out


@dataclass(frozen=True, slots=True)
class _Text:
    clauses: list[_Clause]

    @classmethod
    def of(cls, text: str) -> _Text:
        return cls(_clauses(text))

    @property
    def raw(self) -> list[str]:
        return [t for c in self.clauses for t in c.raw]

    @property
    def stems(self) -> list[str]:
        return [s for c in self.clauses for s in c.stems]

    def affirmed_stems(self) -> list[str]:
        return [s for c in self.clauses for s in c.affirmed_stems()]


def _run_starts(hay: Sequence[str], needle: Sequence[str]) -> list[int]:
    n = len(needle)
    if n == 0 or n > len(hay):
        return []
    return [i for i in range(len(hay) - n + 1) if list(hay[i : i + n]) == list(needle)]


_IDENTIFIER = re.compile(r"[a-z][A-Z]|[A-Z]{2,}[a-z]|\d|_")


@functools.cache
def families() -> dict[str, tuple[str, ...]]:
    """Fault type -> its vocabulary: the fault type read as words, then the
    ``LabelSpec.synonyms`` of every incident scenario of that type (registry order)."""
    vocab: dict[str, list[str]] = {}
    for sid in scenarios.incident_ids():
        spec = scenarios.get(sid).label()
        terms = vocab.setdefault(spec.fault_type, [spec.fault_type.replace("_", " ")])
        terms += [t for t in spec.synonyms if t not in terms]
    return {ft: tuple(terms) for ft, terms in sorted(vocab.items())}


def fault_types() -> list[str]:
    """The closed vocabulary of a hypothesis's ``fault_type``: every family, sorted."""
    return list(families())


@functools.cache
def _declared_single_terms() -> frozenset[str]:
    """Single-token family phrases: declared specific by being in a vocabulary."""
    out: set[str] = set()
    for terms in families().values():
        for term in terms:
            tokens = content_tokens(term)
            if len(tokens) == 1:
                out.add(tokens[0])
    return frozenset(out)


def is_specific(phrase: str) -> bool:
    """Whether ``phrase`` can name anything (see *Specific phrases* above)."""
    tokens = content_tokens(phrase)
    if not tokens or all(is_generic(stem(t)) for t in tokens):
        return False
    if len(tokens) > 1:
        return True
    return tokens[0] in _declared_single_terms() or bool(_IDENTIFIER.search(phrase.strip()))


def phrase_in(phrase: str, text: _Text | str) -> bool:
    """Rule R1 for one phrase: specific, and occurring in ``text`` not negated."""
    t = text if isinstance(text, _Text) else _Text.of(text)
    if not is_specific(phrase):
        return False
    p_raw = [tok for tok in raw_tokens(phrase) if tok not in STOPWORDS]
    p_stems = [stem(tok) for tok in p_raw]
    glued = "".join(raw_tokens(phrase))
    for clause in t.clauses:
        if any(clause.at[i] < clause.cue for i in _run_starts(clause.stems, p_stems)):
            return True
        if len(glued) >= 6 and _glued_at(clause.raw[: clause.cue], clause.raw, glued):
            return True
    return False


def _glued_at(starts: Sequence[str], hay: Sequence[str], glued: str) -> bool:
    """A run of ``hay`` starting at one of the first ``len(starts)`` tokens, glued,
    equals ``glued`` (optionally followed by a :data:`GLUE_SUFFIXES` entry)."""
    wanted = {glued + s for s in GLUE_SUFFIXES}
    longest = max(len(w) for w in wanted)
    for i in range(len(starts)):
        acc = ""
        for tok in hay[i:]:
            acc += tok
            if acc in wanted:
                return True
            if len(acc) >= longest or not (glued.startswith(acc) or acc.startswith(glued)):
                break
    return False


def label_phrases(truth: GroundTruth) -> list[tuple[str, str]]:
    """(kind, phrase) pairs of R1, in the order they are tried."""
    out: list[tuple[str, str]] = [("root_cause", truth.root_cause)]
    out += [("alias", a) for a in truth.root_cause_aliases]
    if truth.root_cause_component:
        out.append(("component", truth.root_cause_component))
    if truth.fault_type and truth.fault_type != "none":
        out.append(("fault_type", truth.fault_type.replace("_", " ")))
        out += [("family", term) for term in families().get(truth.fault_type, ())[1:]]
    return out


def families_named(text: str) -> list[str]:
    """The fault families whose vocabulary ``text`` names (specific, not negated)."""
    t = _Text.of(text)
    return [ft for ft, terms in families().items() if any(phrase_in(p, t) for p in terms)]


@dataclass(frozen=True, slots=True)
class RootCauseMatch:
    """How a text fared against a label: the rule that matched (``alias:memory leak``)
    or None, and the families it names (two or more: ambiguous)."""

    matched_by: str | None
    named: tuple[str, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.named) >= 2

    def __bool__(self) -> bool:
        return self.matched_by is not None


def match_root_cause(text: str, truth: GroundTruth) -> RootCauseMatch:
    """Rules A, B, R1, R2 (see the module docstring). Incident labels only."""
    if not truth.incident:
        return RootCauseMatch(None, ())
    t = _Text.of(text)
    named = [ft for ft, terms in families().items() if any(phrase_in(p, t) for p in terms)]
    hit: str | None = None
    for kind, phrase in label_phrases(truth):
        if phrase_in(phrase, t):
            hit = f"{kind}:{phrase}"
            break
    if hit is None:
        have = {s for s in t.affirmed_stems() if not is_generic(s)}
        want = discriminative(truth.root_cause) | discriminative(truth.root_cause_component or "")
        overlap = have & want
        if len(overlap) >= R2_MIN_OVERLAP and len(overlap) >= R2_MIN_SHARE * len(have):
            hit = "token_overlap:" + ",".join(sorted(overlap))
    if hit is not None and truth.fault_type not in named:
        named.append(truth.fault_type)
    named_t = tuple(sorted(named))
    if len(named_t) >= 2 or (named_t and named_t != (truth.fault_type,)):
        return RootCauseMatch(None, named_t)
    return RootCauseMatch(hit, named_t)


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
