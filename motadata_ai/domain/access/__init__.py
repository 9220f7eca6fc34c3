"""Who may call the HTTP gateway: virtual API keys per tenant and the policy each key carries."""

from motadata_ai.domain.access.keys import VirtualKeys

__all__ = ["VirtualKeys"]
