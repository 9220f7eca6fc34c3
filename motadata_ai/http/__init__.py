"""The optional HTTP edge (``motadata-ai serve``): an OpenAI-compatible gateway, RAG, model serving
and the unified query, on FastAPI.

``create_app(ai, keys=VirtualKeys(...))`` is the application ``serve`` runs; ``create_router(...)``
the same routes for mounting in an application of your own. Errors answer one body in the OpenAI
error shape, with the status of their branch of the error tree (:mod:`motadata_ai.http.errors`);
the tenant comes from the API key (:mod:`motadata_ai.http.auth`). See ``docs/http.md``.
"""

from motadata_ai.http.app import create_app, create_router
from motadata_ai.http.errors import ErrorBody, error_response, status_code
from motadata_ai.http.query import QueryRequest, QueryTarget

__all__ = [
    "ErrorBody",
    "QueryRequest",
    "QueryTarget",
    "create_app",
    "create_router",
    "error_response",
    "status_code",
]
