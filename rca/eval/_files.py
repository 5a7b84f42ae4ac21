"""Reading files the scorer is handed (reports, labels) without trusting what they are.

A report comes from the system under test, so its path may name anything: a FIFO or a
character device (``/dev/zero``), which a plain ``open().read()`` would wait on or read
forever, a symbolic link planted to make the scorer read another file, or a file far too
large to be a report. :func:`read_regular_file` accepts a regular file only and reads at
most ``max_bytes``:

* ``lstat`` first, so a FIFO is never opened in blocking mode and a link is refused;
* ``open`` with ``O_NOFOLLOW | O_NONBLOCK`` (a FIFO or link swapped in after the
  ``lstat`` cannot block or redirect the read), then ``fstat`` on the open descriptor:
  only what was actually opened counts;
* the size is checked before reading, and the read stops after ``max_bytes + 1`` bytes
  anyway (a file still growing while it is read).
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# The largest report or label the scorer reads: a real report is a few kilobytes.
MAX_INPUT_BYTES = 16 * 1024 * 1024

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISLNK, "a symbolic link"),
)


class UnreadableFile(Exception):
    """A path that is not a regular file of acceptable size; the message says why."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def _check(st: os.stat_result, max_bytes: int) -> None:
    if stat.S_ISLNK(st.st_mode):
        raise UnreadableFile("is a symbolic link; give the file itself")
    if not stat.S_ISREG(st.st_mode):
        raise UnreadableFile(f"is {_kind(st.st_mode)}, not a regular file")
    if st.st_size > max_bytes:
        raise UnreadableFile(f"is {st.st_size} bytes; the limit is {max_bytes} bytes")


def read_regular_file(path: str | Path, max_bytes: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file at ``path``; :class:`UnreadableFile` otherwise."""
    try:
        _check(os.lstat(path), max_bytes)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UnreadableFile("no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link after the lstat
            raise UnreadableFile("is a symbolic link; give the file itself") from None
        raise UnreadableFile(f"cannot read ({exc.strerror or exc})") from None
    try:
        _check(os.fstat(fd), max_bytes)
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise UnreadableFile(f"is over {max_bytes} bytes (the limit)")
        return b"".join(chunks)
    except OSError as exc:
        raise UnreadableFile(f"cannot read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
