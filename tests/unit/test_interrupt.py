"""Stop signals as exceptions (the CLI's Ctrl-C / kill handling, in-process)."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from rca.seed._interrupt import Interrupted, signals_raise


@pytest.fixture(autouse=True)
def keep_handlers() -> Iterator[None]:
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


@pytest.mark.parametrize(
    ("sig", "status", "text"),
    [(signal.SIGINT, 130, "interrupted by SIGINT"), (signal.SIGTERM, 143, "terminated by SIGTERM")],
)
def test_a_stop_signal_raises_once_then_is_ignored(sig: int, status: int, text: str) -> None:
    cleaned = []
    with pytest.raises(Interrupted) as info, signals_raise():
        try:
            os.kill(os.getpid(), sig)
            signal.pause()  # not reached: the handler raises first
        finally:
            os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C during the cleanup
            os.kill(os.getpid(), signal.SIGTERM)
            cleaned.append(True)
    assert (info.value.exit_status, str(info.value), cleaned) == (status, text, [True])
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN  # on the way out: stays so


def test_handlers_are_restored_when_nothing_arrived() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with signals_raise():
        assert signal.getsignal(signal.SIGTERM) is not before
    assert signal.getsignal(signal.SIGTERM) is before


def test_an_ignored_sigint_stays_ignored() -> None:
    """A background job (`cmd &` in a script) starts with SIGINT ignored: keep it so."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with signals_raise():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        os.kill(os.getpid(), signal.SIGINT)  # nothing happens
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
