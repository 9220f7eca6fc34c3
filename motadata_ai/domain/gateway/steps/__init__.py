"""The gateway's steps, one policy each, in the order a call meets them (see :mod:`.base`)."""

from motadata_ai.domain.gateway.steps.base import Chain, NextComplete, NextEmbed, NextStream, Step

__all__ = ["Chain", "NextComplete", "NextEmbed", "NextStream", "Step"]
