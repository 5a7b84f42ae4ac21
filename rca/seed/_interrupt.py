"""Ctrl-C and ``kill`` as exceptions, so a command's cleanup runs and it exits cleanly.

Python turns SIGINT into ``KeyboardInterrupt`` but lets SIGTERM (``kill``, ``timeout``,
a batch scheduler, ``docker stop``) end the process on the spot: no ``finally`` runs, so
a half-written bundle stays behind. Inside :func:`signals_raise` both raise
:class:`Interrupted` instead, and the CLI maps it to one line and exit 128 + signal.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A stop signal arrived. A BaseException, like KeyboardInterrupt: not an error of
    the work, so ``except Exception`` handlers let it through to the cleanup."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum  # the shell's convention: 130 for SIGINT, 143 for SIGTERM

    def __str__(self) -> str:
        word = "interrupted" if self.signum == signal.SIGINT else "terminated"
        return f"{word} by {signal.Signals(self.signum).name}"


@contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block, SIGINT and SIGTERM raise :class:`Interrupted` in the main thread.

    The first signal also ignores further ones, so hammering Ctrl-C cannot cut the
    cleanup short; those stay ignored after an interruption (the process is on its way
    out), otherwise the previous handlers are restored. A signal ignored on entry (a
    background job's SIGINT) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers, and only it receives signals
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        for s in STOP_SIGNALS:
            signal.signal(s, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {s: signal.getsignal(s) for s in STOP_SIGNALS}
    for s, old in previous.items():
        if old is not signal.SIG_IGN:
            signal.signal(s, handler)
    interrupted = False
    try:
        yield
    except Interrupted:
        interrupted = True
        raise
    finally:
        if not interrupted:
            for s, old in previous.items():
                signal.signal(s, old if old is not None else signal.SIG_DFL)
