"""Evidence refs: parsing, checking against a bundle's streams, and line instants.

Accepted ref forms (surrounding white space ignored):

* ``FILE:N`` / ``FILE:LN`` / ``FILE#LN`` - one line, 1-based;
* ``FILE:N-M`` / ``FILE#LN-LM`` - an inclusive line range, ``N <= M``;
* a request id: 32 hex digits, optionally prefixed ``request_id:`` / ``request_id=``.

``FILE`` is one of the five stream file names, optionally behind a directory path
(``blind-0123/api_logs.log:12`` names ``api_logs.log``). Anything else - another file
such as ``ground_truth.json``, a line past the end, free text - is not in the bundle.

A request id is in the bundle when it occurs as a 32-hex token (a run of exactly 32
lower-case hex digits not touching another hex digit) in any stream; the index is built
by scanning the stream files once, on the first request-id ref of a bundle. Trace ids
are 32-hex too and are accepted the same way (they name the same request).

Relevance (:func:`is_relevant`, incident labels): a ref in the bundle counts as evidence
of the incident when it is narrow - a line, a range of at most
:data:`MAX_RANGE_FOR_HITS` lines that is not the whole file, or a request id - and it
holds a line of the label's ``evidence`` or ``causal_chain`` pointers, or a line of the
root-cause layer's stream (``root_cause_layer`` -> its file) dated inside the incident
window (``onset`` .. ``recovery``; to the end of the bundle when ``recovery`` is null).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rca.seed.mock_incident_generator import STREAM_FILES, EvidencePointer, GroundTruth

STREAM_OF_FILE: dict[str, str] = {f: s for s, f in STREAM_FILES.items()}

_LINE_REF = re.compile(
    r"^(?:.*[/\\])?(?P<file>[^/\\:#\s]+)\s*[:#]\s*L?(?P<start>\d+)(?:\s*-\s*L?(?P<end>\d+))?$"
)
_ID_REF = re.compile(r"^(?:request[_-]?id\s*[:=]\s*)?(?P<id>[0-9a-fA-F]{32})$", re.IGNORECASE)
_ID_TOKEN = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")

# A range wider than this is checked for existence but hits no label pointer and is
# never relevant (citing a whole file must not earn recall, nor count as evidence).
MAX_RANGE_FOR_HITS = 20
MAX_LINE_DIGITS = 18


@dataclass(frozen=True, slots=True)
class ParsedRef:
    ref: str
    kind: str  # line | range | request_id | unparsed
    file: str | None = None
    start: int = 0
    end: int = 0
    request_id: str | None = None


def _line_number(digits: str) -> int:
    # int() of a 5,000-digit run fails (and is slow long before): any number this long is
    # past the end of every stream, and is reported as such.
    return int(digits) if len(digits) <= MAX_LINE_DIGITS else 10**MAX_LINE_DIGITS


def parse_ref(ref: str) -> ParsedRef:
    text = ref.strip()
    m = _ID_REF.match(text)
    if m:
        return ParsedRef(ref, "request_id", request_id=m["id"].lower())
    m = _LINE_REF.match(text)
    if m:
        start = _line_number(m["start"])
        end = _line_number(m["end"]) if m["end"] is not None else start
        return ParsedRef(ref, "line" if m["end"] is None else "range", m["file"], start, end)
    return ParsedRef(ref, "unparsed")


class BundleIndex:
    """Line counts, lines and request ids of one bundle's streams, read lazily, once."""

    def __init__(self, bundle_dir: Path) -> None:
        self.dir = bundle_dir
        self._counts: dict[str, int | None] = {}
        self._lines: dict[str, list[str]] = {}
        self._ids: dict[str, list[tuple[str, int]]] | None = None

    def line_count(self, file: str) -> int | None:
        """Lines in a stream file; None if ``file`` is not a stream file of the bundle."""
        if file not in self._counts:
            path = self.dir / file
            if file not in STREAM_OF_FILE or not path.is_file():
                self._counts[file] = None
            else:
                data = path.read_bytes()
                n = data.count(b"\n")
                self._counts[file] = n + (1 if data and not data.endswith(b"\n") else 0)
        return self._counts[file]

    def lines(self, file: str) -> list[str]:
        if file not in self._lines:
            path = self.dir / file
            text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
            self._lines[file] = text.split("\n")
        return self._lines[file]

    def request_locations(self, request_id: str) -> list[tuple[str, int]]:
        if self._ids is None:
            ids: dict[str, list[tuple[str, int]]] = {}
            for file in STREAM_FILES.values():
                path = self.dir / file
                if not path.is_file():
                    continue
                with open(path, "rb") as f:
                    for n, raw in enumerate(f, start=1):
                        for tok in _ID_TOKEN.findall(raw):
                            ids.setdefault(tok.decode(), []).append((file, n))
            self._ids = ids
        return self._ids.get(request_id, [])

    def instant(
        self, file: str, line: int, year: int, *, near: datetime | None = None
    ) -> datetime | None:
        """When line ``line`` of ``file`` was logged (continuation lines: their entry's).

        ``year`` and ``near`` date klog lines, as in :func:`line_instant`."""
        lines = self.lines(file)
        stream = STREAM_OF_FILE.get(file)
        if stream is None:
            return None
        for n in range(min(line, len(lines)), max(0, line - 200), -1):
            t = line_instant(stream, lines[n - 1], year, near=near)
            if t is not None:
                return t
        return None


@dataclass(frozen=True, slots=True)
class RefResult:
    parsed: ParsedRef
    in_bundle: bool
    detail: str
    locations: tuple[tuple[str, int, int], ...]  # (file, first, last) it points at


def check_ref(ref: str, index: BundleIndex) -> RefResult:
    p = parse_ref(ref)
    if p.kind == "request_id":
        assert p.request_id is not None
        locs = index.request_locations(p.request_id)
        if not locs:
            return RefResult(p, False, "request id not found in any stream", ())
        return RefResult(p, True, f"{len(locs)} line(s)", tuple((f, n, n) for f, n in locs))
    if p.kind == "unparsed" or p.file is None:
        return RefResult(p, False, "not FILE:LINE, FILE:START-END or a 32-hex request id", ())
    count = index.line_count(p.file)
    if count is None:
        allowed = ", ".join(STREAM_FILES.values())
        return RefResult(p, False, f"{p.file} is not a stream of the bundle ({allowed})", ())
    if p.start < 1 or p.end < p.start:
        return RefResult(p, False, "bad line range", ())
    if p.end > count:
        return RefResult(p, False, f"{p.file} has {count} lines", ())
    return RefResult(p, True, "", ((p.file, p.start, p.end),))


def hits_pointer(result: RefResult, pointer: EvidencePointer) -> bool:
    """Same file and line (or a range of at most MAX_RANGE_FOR_HITS lines holding it), or
    the pointer's request id."""
    if not result.in_bundle:
        return False
    p = result.parsed
    if p.kind == "request_id":
        return pointer.request_id is not None and pointer.request_id == p.request_id
    return (
        p.file == pointer.file
        and p.start <= pointer.line <= p.end
        and p.end - p.start < MAX_RANGE_FOR_HITS
    )


def parse_instant(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        return datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return None


def is_relevant(result: RefResult, truth: GroundTruth, index: BundleIndex) -> bool:
    """Whether a checked ref counts as evidence of the label's incident (module rules)."""
    if not result.in_bundle or not truth.incident:
        return False
    p = result.parsed
    if p.kind in ("line", "range"):
        assert p.file is not None
        if p.end - p.start >= MAX_RANGE_FOR_HITS:
            return False
        if p.kind == "range" and p.start == 1 and p.end == index.line_count(p.file):
            return False  # the whole file, however short
    pointers = [*truth.evidence, *(e for step in truth.causal_chain for e in step.evidence)]
    if truth.first_signal is not None:
        pointers.append(truth.first_signal)
    if any(hits_pointer(result, ptr) for ptr in pointers):
        return True
    window = truth.incident_window
    layer = truth.root_cause_layer
    if window is None or layer is None:
        return False
    onset, recovery = parse_instant(window.onset), parse_instant(window.recovery)
    if onset is None:
        return False
    year = onset.year
    for file, first, last in result.locations:
        if STREAM_OF_FILE.get(file) != layer:
            continue
        for n in range(first, last + 1):
            t = index.instant(file, n, year, near=onset)
            if t is not None and onset <= t and (recovery is None or t <= recovery):
                return True
    return False


# ---------------------------------------------------------------------- line instants
_MONTHS = {
    m: i
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1
    )
}
_UI_ACCESS = re.compile(
    r"\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]"
)
_UI_ERROR = re.compile(r"^(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[")
_API = re.compile(
    r"^\[pod/[^\]]*\] \[?(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})"
)
_DB = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?) UTC ")
_KLOG = re.compile(r"^[IWEF](\d{2})(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{1,6})")


def _iso(text: str, zone: str) -> datetime:
    if zone == "Z":
        zone = "+00:00"
    elif ":" not in zone:
        zone = zone[:3] + ":" + zone[3:]
    return datetime.fromisoformat(text + zone).astimezone(UTC)


def _klog_instant(m: re.Match[str], year: int, near: datetime | None) -> datetime | None:
    month, day, hour, minute, second = (int(x) for x in m.groups()[:5])
    micro = int(m[6].ljust(6, "0"))
    years = (year,) if near is None else (near.year - 1, near.year, near.year + 1)
    found = []
    for y in years:
        try:
            found.append(datetime(y, month, day, hour, minute, second, micro, tzinfo=UTC))
        except ValueError:  # 29 February of a common year
            continue
    if not found:
        return None
    if near is None:
        return found[0]
    return min(found, key=lambda t: abs(t - near))


def line_instant(
    stream: str, line: str, year: int, *, near: datetime | None = None
) -> datetime | None:
    """The instant a line carries, in UTC; None for lines without one (continuations).

    klog lines carry no year: given ``near`` (an instant of the same bundle), the year,
    of ``near``'s and the two around it, that dates the line nearest to ``near`` (a bundle
    may run over New Year: ``I1231 ...`` and ``I0101 ...`` lines side by side); else
    ``year``. Mesh lines are dated at the end of the request (``start_time`` +
    ``duration`` ms), when Envoy writes them.
    """
    try:
        if stream == "ui":
            m = _UI_ACCESS.search(line)
            if m:
                sign = 1 if m[7] == "+" else -1
                off = timedelta(hours=int(m[8]), minutes=int(m[9])) * sign
                local = datetime(
                    int(m[3]), _MONTHS[m[2]], int(m[1]), int(m[4]), int(m[5]), int(m[6])
                )
                return (local - off).replace(tzinfo=UTC)
            m = _UI_ERROR.match(line)
            if m:
                y, mo, d, h, mi, s = (int(x) for x in m.groups())
                return datetime(y, mo, d, h, mi, s, tzinfo=UTC)
            return None
        if stream == "api":
            m = _API.match(line)
            return _iso(m[1], m[2]) if m else None
        if stream == "db":
            m = _DB.match(line)
            return _iso(m[1].replace(" ", "T"), "Z") if m else None
        if stream == "k8s":
            m = _KLOG.match(line)
            return _klog_instant(m, year, near) if m else None
        if stream == "mesh":
            if not line.startswith("{"):
                return None
            obj = json.loads(line)
            start = _iso(str(obj["start_time"]).removesuffix("Z"), "Z")
            return start + timedelta(milliseconds=int(obj.get("duration") or 0))
    except (ValueError, KeyError, TypeError):
        return None
    return None
