"""NATS JetStream adapters over ``nats-py``."""

from motadata_ai.adapters.nats.bus import NatsBus

__all__ = ["NatsBus"]
