"""ServerAddress: the host and port a model's spans name, read from a base URL."""

from __future__ import annotations

import pytest

from motadata_ai.ports.llm import ServerAddress


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000/v1", ServerAddress("127.0.0.1", 8000)),
        ("https://api.openai.com/v1", ServerAddress("api.openai.com", 443)),
        ("http://vllm.internal/v1", ServerAddress("vllm.internal", 80)),
        ("http://user:s3cret@llm.internal:9000", ServerAddress("llm.internal", 9000)),
        ("http://[::1]:11434", ServerAddress("::1", 11434)),
        ("ollama.internal:11434", ServerAddress("ollama.internal", 11434)),
    ],
)
def test_the_address_is_the_host_and_the_port_of_the_url(url: str, expected: ServerAddress) -> None:
    assert ServerAddress.of_url(url) == expected


@pytest.mark.parametrize("url", [None, "", "http://", "http://host:notaport/v1"])
def test_no_address_without_a_host_or_with_a_bad_port(url: str | None) -> None:
    assert ServerAddress.of_url(url) is None
