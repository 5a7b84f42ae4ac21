"""Errors with stable codes, so callers (CLI, workflow, tests) can branch on them."""

from __future__ import annotations

from typing import Literal

ErrorCode = Literal[
    "INVALID_SCENARIO", "INVALID_PARAMETER", "INVALID_OUTPUT_FORMAT", "GENERATION_FAILED"
]


class GenerationError(Exception):
    """A request the generator refuses or a generation that failed.

    ``code`` is one of :data:`ErrorCode`; ``field`` names the offending input when there
    is one, and the message lists the allowed values.
    """

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.field = field

    def __str__(self) -> str:
        return f"{self.code}: {self.args[0]}"

    def __reduce__(self) -> tuple[type[GenerationError], tuple[str, str, str | None]]:
        # Errors raised in a worker process reach the caller intact (code and field too).
        return (type(self), (self.code, self.args[0], self.field))
