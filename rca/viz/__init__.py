"""Look rather than read: a PNG timeline (``plot``) and a terminal summary (``summarize``)."""

from __future__ import annotations

from ._commands import add_commands

__all__ = ["add_commands"]
