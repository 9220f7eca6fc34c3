"""The names of the ports an adapter can serve: one spelling for plugins, the container and
``connect()`` (``MOTADATA_ADAPTERS``), so an adapter registered for a port can always be selected."""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ADAPTER_PORTS", "MODEL_ROUTED_PORTS", "PortName", "is_port_name"]

PortName = Literal[
    "artifacts",
    "bus",
    "cache",
    "documents",
    "embeddings",
    "experiments",
    "limits",
    "llm",
    "memory_store",
    "model_registry",
    "parser",
    "prediction_log",
    "telemetry",
    "tokenizer",
    "vector_store",
]
"""A port a plugin adapter may serve (``register_adapters``) and ``MOTADATA_ADAPTERS`` may name."""

ADAPTER_PORTS: tuple[PortName, ...] = get_args(PortName)
MODEL_ROUTED_PORTS: tuple[PortName, ...] = ("llm", "embeddings")
"""Ports whose calls are routed by the model's prefix (``register_model_adapters``)."""


def is_port_name(value: object) -> bool:
    """Whether ``value`` names a port of :data:`ADAPTER_PORTS` (exactly: no other spelling)."""
    return isinstance(value, str) and value in ADAPTER_PORTS
