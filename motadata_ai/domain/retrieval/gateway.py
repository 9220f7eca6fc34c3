"""GatewayLike: the name RAG has always used for the gateway; it is the one
:class:`~motadata_ai.ports.gateway.GatewayPort` every use-case depends on."""

from __future__ import annotations

from motadata_ai.ports.gateway import GatewayPort

GatewayLike = GatewayPort

__all__ = ["GatewayLike"]
