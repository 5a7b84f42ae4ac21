"""One instant, written the way each layer writes it.

Times are integer microseconds since the Unix epoch (UTC) throughout the generator,
so arithmetic is exact and output never depends on float rounding or the local zone.
Each formatter caches the per-second prefix; the caches are bounded so memory stays
flat for long windows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

US = 1_000_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CACHE_LIMIT = 4096


def to_datetime(t_us: int) -> datetime:
    return datetime.fromtimestamp(t_us // US, tz=UTC).replace(microsecond=t_us % US)


def from_datetime(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError("naive datetime: an explicit UTC offset is required")
    delta = dt.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def rfc3339(t_us: int, digits: int = 3) -> str:
    """``2026-11-26T05:29:55.123Z`` (``digits`` fractional digits, 0 for none)."""
    dt = to_datetime(t_us)
    base = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if digits == 0:
        return base + "Z"
    frac = f"{t_us % US:06d}"[:digits]
    return f"{base}.{frac}Z"


def _per_second(render: Callable[[datetime], str]) -> Callable[[int], str]:
    cache: dict[int, str] = {}

    def prefix(t_us: int) -> str:
        sec = t_us // US
        text = cache.get(sec)
        if text is None:
            if len(cache) >= _CACHE_LIMIT:
                cache.clear()
            text = render(datetime.fromtimestamp(sec, tz=UTC))
            cache[sec] = text
        return text

    return prefix


_nginx_access = _per_second(
    lambda d: f"{d.day:02d}/{_MONTHS[d.month - 1]}/{d.year}:{d:%H:%M:%S} +0000"
)
_slash = _per_second(lambda d: d.strftime("%Y/%m/%d %H:%M:%S"))
_dash = _per_second(lambda d: d.strftime("%Y-%m-%d %H:%M:%S"))
_iso = _per_second(lambda d: d.strftime("%Y-%m-%dT%H:%M:%S"))
_klog = _per_second(lambda d: d.strftime("%m%d %H:%M:%S"))


def nginx_access(t_us: int) -> str:
    """``26/Nov/2026:05:29:55 +0000`` ($time_local in a UTC container)."""
    return _nginx_access(t_us)


def nginx_error(t_us: int) -> str:
    """``2026/11/26 05:29:58``."""
    return _slash(t_us)


def postgres(t_us: int) -> str:
    """``2026-11-26 05:29:55.123 UTC`` (``%m``)."""
    return f"{_dash(t_us)}.{(t_us % US) // 1000:03d} UTC"


def spring(t_us: int) -> str:
    """``2026-11-26T05:29:55.123Z`` (Spring Boot 3 default, UTC)."""
    return f"{_iso(t_us)}.{(t_us % US) // 1000:03d}Z"


def jvm_unified(t_us: int) -> str:
    """``2026-11-26T05:29:55.123+0000`` (``-Xlog`` ``time`` decorator)."""
    return f"{_iso(t_us)}.{(t_us % US) // 1000:03d}+0000"


def iso_seconds(t_us: int) -> str:
    """``2026-11-26T05:29:55``: the part of :func:`envoy` that changes once a second."""
    return _iso(t_us)


def envoy(t_us: int) -> str:
    """``2026-11-26T05:29:55.123Z`` (%START_TIME%)."""
    return f"{_iso(t_us)}.{(t_us % US) // 1000:03d}Z"


def klog(t_us: int) -> str:
    """``1126 05:29:55.123456`` (klog header after the severity letter; no year)."""
    return f"{_klog(t_us)}.{t_us % US:06d}"
