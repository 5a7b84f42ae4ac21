"""Files and directories that appear complete or not at all, never through a symlink.

Every output is first written under a temporary name beside its final one,
``.<final>.partial-<16 random hex>``, created exclusively (``O_CREAT|O_EXCL|O_NOFOLLOW``,
or ``mkdir``) relative to a descriptor of the output directory, then renamed into place.
A symlink planted at any name therefore never redirects a write: a taken temporary name
is skipped, and a rename replaces a link at the final name instead of writing through it.

Liveness of temporary entries: each partial is ``flock``-ed by its writer for its whole
life, through a descriptor that forked workers share, so the lock ends with the last
process of the run, however it ends. The next writer into the same directory removes
every partial whose lock it can take (only entries of this naming pattern, regular files
and directories, never through a symlink). Creating a partial and sweeping happen under
an exclusive ``flock`` of the directory itself, so no sweep sees a partial not yet locked.

A finished bundle directory replaces an older one in one step,
``renameat2(RENAME_EXCHANGE)``; the old copy then sits at the partial's name until it is
removed. Without that call (old kernel, some file systems) it takes two renames through
``.<final>.old-<hex>``; a run killed between them leaves the old bundle there, and the
next sweep renames it back when the final name is still free.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from . import _linux
from ._linux import renameat2

TOKEN_HEX = 16
_LEFTOVER_RE = re.compile(rf"^\.(?P<final>.+)\.(?P<kind>partial|old)-[0-9a-f]{{{TOKEN_HEX}}}$")
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_PROBE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_ATTEMPTS = 100  # random names tried before giving up (a clash is already ~2**-64)


def token() -> str:
    return secrets.token_hex(TOKEN_HEX // 2)


class NotADirectoryTarget(Exception):
    """Something other than a directory (a file, a symlink) holds a bundle's final name."""

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(f"{name} is a {kind}")
        self.name = name
        self.kind = kind


def open_dir(path: Path) -> int:
    """A descriptor of directory ``path``, created with its parents if missing."""
    path.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


@contextmanager
def _dir_locked(dir_fd: int) -> Iterator[bool]:
    """Exclusive lock of the directory itself; False where the file system has no flock."""
    try:
        fcntl.flock(dir_fd, fcntl.LOCK_EX)
    except OSError:
        yield False
        return
    try:
        yield True
    finally:
        fcntl.flock(dir_fd, fcntl.LOCK_UN)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISREG(mode):
        return "regular file"
    if stat.S_ISDIR(mode):
        return "directory"
    return "special file (FIFO, socket or device)"


def lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def check_directory_target(dir_fd: int, name: str) -> None:
    """Raise :class:`NotADirectoryTarget` unless ``name`` is absent or a real directory."""
    st = lstat_at(dir_fd, name)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryTarget(name, _kind(st.st_mode))


@dataclass
class Partial:
    """A locked temporary entry in ``dir_fd``; ``fd`` holds the lock (for a directory,
    it is the directory's own descriptor)."""

    dir_fd: int
    name: str
    fd: int
    directory: bool

    def close(self) -> None:
        os.close(self.fd)

    def discard(self) -> None:
        """Remove it (after a failure); never follows a link planted inside."""
        if self.directory:
            shutil.rmtree(self.name, ignore_errors=True, dir_fd=self.dir_fd)
        else:
            with suppress(FileNotFoundError):
                os.unlink(self.name, dir_fd=self.dir_fd)


def create_partial(dir_fd: int, final: str, *, directory: bool) -> Partial:
    """Sweep dead runs' leftovers, then create and lock a fresh partial for ``final``."""
    with _dir_locked(dir_fd) as locked:
        if locked:  # without the directory lock a sweep could race a creation: skip it
            sweep(dir_fd)
        for _ in range(_ATTEMPTS):
            name = f".{final}.partial-{token()}"
            try:
                if directory:
                    os.mkdir(name, 0o777, dir_fd=dir_fd)
                    fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
                else:
                    fd = os.open(name, _CREATE_FLAGS, 0o666, dir_fd=dir_fd)
            except FileExistsError:
                continue  # taken, maybe by a planted link: never reuse it, pick another
            with suppress(OSError):  # no flock here: then no sweep removes it either
                fcntl.flock(fd, fcntl.LOCK_EX)
            return Partial(dir_fd, name, fd, directory)
    raise FileExistsError(errno.EEXIST, f"no free temporary name for {final}")


def sweep(dir_fd: int) -> None:
    """Remove (or, for an ``.old-`` bundle whose final name is free, restore) every
    leftover of a dead run in the directory. Anything unexpected is left alone."""
    for name in sorted(os.listdir(dir_fd)):
        m = _LEFTOVER_RE.match(name)
        if m is not None:
            with suppress(OSError):  # gone meanwhile, or not ours to judge: leave it
                _sweep_one(dir_fd, name, m["final"], m["kind"])


def _sweep_one(dir_fd: int, name: str, final: str, kind: str) -> None:
    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISDIR(st.st_mode):
        fd = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    elif stat.S_ISREG(st.st_mode) and kind == "partial":
        fd = os.open(name, _PROBE_FLAGS, dir_fd=dir_fd)
    else:
        return  # a symlink, a FIFO ...: we never create those
    try:
        if not os.path.samestat(os.fstat(fd), st):
            return  # replaced between the two looks
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # its writer still runs
        if kind == "old" and stat.S_ISDIR(st.st_mode) and lstat_at(dir_fd, final) is None:
            rename_noreplace(dir_fd, name, final)  # killed between the two renames
        elif stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=dir_fd)
        else:
            os.unlink(name, dir_fd=dir_fd)
    finally:
        os.close(fd)


def rename_noreplace(dir_fd: int, src: str, dst: str) -> None:
    """Rename ``src`` to ``dst`` in one directory; ``FileExistsError`` if ``dst`` exists."""
    try:
        renameat2(dir_fd, src, dir_fd, dst, _linux.RENAME_NOREPLACE)
    except OSError as exc:
        if exc.errno not in _linux.UNSUPPORTED:
            raise
        if lstat_at(dir_fd, dst) is not None:
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), dst) from None
        os.rename(src, dst, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)


def install_file(partial: Partial, final: str) -> None:
    """Rename a finished file over ``final`` (a link there is replaced, not followed)."""
    os.replace(partial.name, final, src_dir_fd=partial.dir_fd, dst_dir_fd=partial.dir_fd)


def install_dir(partial: Partial, final: str) -> None:
    """Put a finished directory at ``final``, replacing an older directory there in one
    step where the kernel can; raise :class:`NotADirectoryTarget` for anything else."""
    dir_fd = partial.dir_fd
    if lstat_at(dir_fd, final) is None:
        with suppress(FileExistsError):  # created meanwhile: replace it below
            rename_noreplace(dir_fd, partial.name, final)
            return
    check_directory_target(dir_fd, final)
    try:
        old_fd = os.open(final, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:  # replaced by a link or a file since the check
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise NotADirectoryTarget(final, "symlink or file") from exc
        raise
    try:
        # Locked, the old copy is never taken for a dead run's leftover once moved aside.
        fcntl.flock(old_fd, fcntl.LOCK_EX)
        try:
            renameat2(dir_fd, partial.name, dir_fd, final, _linux.RENAME_EXCHANGE)
            aside = partial.name
        except OSError as exc:
            if exc.errno not in _linux.UNSUPPORTED:
                raise
            aside = f".{final}.old-{token()}"
            os.rename(final, aside, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            try:
                os.rename(partial.name, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                os.rename(aside, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                raise
        shutil.rmtree(aside, ignore_errors=True, dir_fd=dir_fd)
    finally:
        os.close(old_fd)


def new_file(dir_fd: int, name: str) -> IO[bytes]:
    """A file created for writing in ``dir_fd``; fails if anything holds the name."""

    def opener(path: str, flags: int) -> int:
        return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666, dir_fd=dir_fd)

    return open(name, "xb", opener=opener)


class NotRegularFile(Exception):
    """A file a bundle must hold is a symlink, FIFO, device or directory instead."""

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(f"{name} is a {kind}, not a regular file")
        self.name = name
        self.kind = kind


def read_regular(dir_fd: int, name: str) -> bytes:
    """The bytes of ``name`` in ``dir_fd``; :class:`NotRegularFile` for anything but a
    regular file (a link is not followed, a FIFO not waited on)."""
    try:
        fd = os.open(name, _PROBE_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise NotRegularFile(name, "symlink") from None
        raise
    with os.fdopen(fd, "rb") as f:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise NotRegularFile(name, _kind(mode))
        return f.read()
