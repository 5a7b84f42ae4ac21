"""One renderer per stream; each writes its component's real log format."""

from __future__ import annotations

from ._base import RenderContext, Renderer
from .api import ApiRenderer
from .db import DbRenderer
from .k8s import K8sRenderer
from .mesh import MeshRenderer
from .metrics import MetricsRenderer
from .traces import TracesRenderer
from .ui import UiRenderer

RENDERERS: dict[str, type[Renderer]] = {
    "ui": UiRenderer,
    "api": ApiRenderer,
    "db": DbRenderer,
    "k8s": K8sRenderer,
    "mesh": MeshRenderer,
    "metrics": MetricsRenderer,
    "traces": TracesRenderer,
}

__all__ = ["RENDERERS", "RenderContext", "Renderer"]
