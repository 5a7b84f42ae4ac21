"""Types of the compiled simulation core (rca/seed/_simcore.c)."""

from collections.abc import Iterator
from typing import Any

FACT: int
PROBE: int
SCANNER: int
ABI: int

class Core(Iterator[Any]):
    """The simulation's main loop; built from ``Simulation._native_config()``."""

    def __init__(self, config: dict[str, Any], /) -> None: ...
    def random(self) -> float: ...
    def push(self, t_us: int, kind: int, payload: Any, /) -> None: ...
    def __next__(self) -> Any: ...

class MeshFormatter:
    """The mesh renderer's access-log line in C (see ``MeshRenderer.line``)."""

    def __init__(self, config: dict[str, Any], /) -> None: ...
    def __call__(
        self, request: Any, local_port: int, remote_port: int, second: str, /
    ) -> str | None: ...

class UiFormatter:
    """The ui renderer's nginx access line in C (see ``UiRenderer.line``)."""

    def __init__(self, request_class: type, /) -> None: ...
    def __call__(self, request: Any, protocol: str, time_local: str, /) -> str | None: ...

class Sink:
    """``_sink.Sink`` in C: the same writes, bytes and signal index."""

    def __init__(
        self,
        file: str,
        out: Any,
        sha: Any,
        signal_hit: type,
        from_us: int = ...,
        until_us: int = ...,
        /,
    ) -> None: ...
    @property
    def file(self) -> str: ...
    @property
    def sha(self) -> Any: ...
    @property
    def bytes(self) -> int: ...
    @property
    def lines(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def signals(self) -> dict[str, Any]: ...
    def add(
        self, t_us: int, text: str, keys: tuple[str, ...] = (), request_id: str | None = None, /
    ) -> None: ...
    def flush_before(self, watermark_us: int, /) -> None: ...
    def close(self) -> None: ...

class RequestHandler:
    """A renderer's ``request()`` in C, for the ui, mesh and api streams."""

    def __init__(self, stream: str, config: dict[str, Any], /) -> None: ...
    def request(self, request: Any, /) -> None: ...
