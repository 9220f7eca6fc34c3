"""pytest fixtures: a real loopback HTTP server speaking the OpenAI protocol.

``openai_server`` is session-scoped (one server for the run); each test that takes it through
``fresh_openai_server`` gets a server whose queue and request log were reset, so scripts never leak between
tests.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from motadata_ai.testing.openai_server import OpenAIServer, RecordedRequest, Reply, ToolCallReply

__all__ = [
    "OpenAIServer",
    "RecordedRequest",
    "Reply",
    "ToolCallReply",
    "fresh_openai_server",
    "openai_server",
]


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    """The session's loopback OpenAI-protocol server (``.base_url`` ends in ``/v1``)."""
    server = OpenAIServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_openai_server(openai_server: OpenAIServer) -> Iterator[OpenAIServer]:
    """The session server, reset before and after the test."""
    openai_server.reset()
    yield openai_server
    openai_server.reset()
