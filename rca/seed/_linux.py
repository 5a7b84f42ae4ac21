"""Two Linux system calls the standard library lacks, through ctypes.

* ``renameat2(2)`` (Linux >= 3.15, glibc >= 2.28): ``RENAME_EXCHANGE`` swaps two names in
  one step, ``RENAME_NOREPLACE`` refuses to replace. Elsewhere it raises ``ENOSYS`` and
  callers fall back to plain renames.
* ``prctl(PR_SET_PDEATHSIG)``: the kernel signals a process when the thread that forked it
  dies, even by SIGKILL; a no-op where unavailable.
"""

from __future__ import annotations

import ctypes
import errno
import os

# <linux/fs.h> and <linux/prctl.h>
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
PR_SET_PDEATHSIG = 1
# What renameat2 says when this kernel, file system or libc cannot do it.
UNSUPPORTED = frozenset({errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP})


def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL(None, use_errno=True)
    except (OSError, TypeError):  # TypeError: Windows has no "this process" handle
        return None


_LIBC = _libc()
_RENAMEAT2 = getattr(_LIBC, "renameat2", None)
if _RENAMEAT2 is not None:
    _RENAMEAT2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    _RENAMEAT2.restype = ctypes.c_int
_PRCTL = getattr(_LIBC, "prctl", None)


def renameat2(src_dir_fd: int, src: str, dst_dir_fd: int, dst: str, flags: int) -> None:
    """``renameat2(2)``; raises ``OSError`` (``ENOSYS`` when there is no such call)."""
    if _RENAMEAT2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available", src, None, dst)
    if _RENAMEAT2(src_dir_fd, os.fsencode(src), dst_dir_fd, os.fsencode(dst), flags) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), src, None, dst)


def die_with_parent(parent_pid: int, signum: int) -> None:
    """In a forked child: get ``signum`` when the parent dies; exit now if it already has."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signum, 0, 0, 0)
    # The parent may have died between fork() and prctl(): then nobody would signal us.
    if os.getppid() != parent_pid:
        os._exit(1)
