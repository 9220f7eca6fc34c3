"""The OpenAI-compatible routes: ``/v1/chat/completions``, ``/v1/embeddings``, ``/v1/models``."""

from motadata_ai.http.v1.routes import create_v1_router

__all__ = ["create_v1_router"]
