"""The fields of Spring Boot's console line that Logback lays out.

Spring Boot 3.5 logs through Logback 1.5 with the console pattern
``... [%15.15t] ${LOG_CORRELATION_PATTERN}%-40.40logger{39} : %m%n``:

* the thread, right-aligned in 15 characters and cut from the left
  (``http-nio-8080-exec-7`` -> ``nio-8080-exec-7``);
* the logger, abbreviated towards 39 characters by Logback's
  ``TargetLengthBasedClassNameAbbreviator``, then padded on the right or cut from the left
  to exactly 40.

The renderer names every logger by its real class name and lets this module print it,
so the abbreviations are Logback's, not typed by hand.
"""

from __future__ import annotations

from functools import lru_cache

LOGGER_WIDTH = 40  # %-40.40logger
LOGGER_TARGET = 39  # {39}
THREAD_WIDTH = 15  # %15.15t


def abbreviate(name: str, target: int = LOGGER_TARGET) -> str:
    """``%logger{target}`` as Logback 1.3+ abbreviates it.

    Left to right, each package segment is cut to its first character until the
    characters removed reach what the segments left of the class name must lose to fit
    ``target``; the check happens at each dot, so the segment that crosses the line is
    cut whole (``org.apache.catalina.core.StandardEngine``, 39 characters, still becomes
    ``o.apache.catalina.core.StandardEngine``). The class name itself is never cut.
    """
    if len(name) < target:
        return name
    last_dot = name.rfind(".")
    if last_dot == -1:
        return name
    # Characters the packages (everything before the last dot) should lose.
    max_trim = last_dot - max(target - (len(name) - last_dot), 0)
    out: list[str] = []
    trimmed = 0
    at_segment_start = True
    i = 0
    while i < last_dot:
        c = name[i]
        if c == ".":
            if trimmed >= max_trim:
                break
            out.append(c)
            at_segment_start = True
        elif at_segment_start:
            out.append(c)
            at_segment_start = False
        else:
            trimmed += 1
        i += 1
    return "".join(out) + name[i:]


@lru_cache(maxsize=256)
def logger_field(name: str) -> str:
    """``%-40.40logger{39}``: exactly 40 characters."""
    return f"{abbreviate(name)[-LOGGER_WIDTH:]:<{LOGGER_WIDTH}}"


def thread_field(name: str) -> str:
    """``%15.15t``: exactly 15 characters."""
    return f"{name[-THREAD_WIDTH:]:>{THREAD_WIDTH}}"
