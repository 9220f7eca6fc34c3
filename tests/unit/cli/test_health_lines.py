"""``motadata-ai health``'s text lines: the details a person needs, per component."""

from __future__ import annotations

from motadata_ai.cli.health import _line
from motadata_ai.domain.values.health import ComponentHealth


def test_a_model_port_line_names_each_built_route_with_its_adapter_and_status() -> None:
    routed = ComponentHealth(
        status="down",
        details={
            "adapter": "ModelRoutedChat",
            "probe": "routes",
            "routes": {
                "local": {"adapter": "LocalChat", "status": "ok"},
                "default": {"adapter": "LiteLLMChat", "status": "down"},
            },
        },
        error="default: ConnectError",
    )
    line = _line("llm", routed)
    assert line.startswith("llm ")
    assert line.endswith(
        "adapter=ModelRoutedChat, routes=default:LiteLLMChat:down local:LocalChat:ok"
        "  error: default: ConnectError"
    )


def test_a_limits_line_shows_the_store_circuit() -> None:
    limits = ComponentHealth(
        status="ok", details={"adapter": "RedisLimits", "address": "redis://h:6379/0", "circuit": "closed"}
    )
    assert _line("limits", limits).endswith("adapter=RedisLimits, address=redis://h:6379/0, circuit=closed")
