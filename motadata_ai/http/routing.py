"""The route class of every router here: SDK errors answer the error body even when the routes are
mounted in an application that has no handler for them."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from motadata_ai.domain.values.errors import MotadataError
from motadata_ai.http.errors import error_response

__all__ = ["SDKErrorRoute"]


class SDKErrorRoute(APIRoute):
    """An ``APIRoute`` that turns a :class:`MotadataError` into :func:`error_response`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except MotadataError as error:
                return error_response(error)

        return handle
