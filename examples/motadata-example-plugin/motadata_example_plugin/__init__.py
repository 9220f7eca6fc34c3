"""An example Motadata AI plugin: the ``lookup_asset`` tool and the ``echo`` LLM provider.

Plugins import ``hookimpl`` from the SDK and never import pluggy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from motadata_ai.plugins import hookimpl

ASSETS: dict[str, dict[str, str]] = {
    "LAP-0042": {
        "asset_tag": "LAP-0042",
        "type": "laptop",
        "model": "ThinkPad T14",
        "owner": "dana@example.com",
    },
    "SRV-0007": {"asset_tag": "SRV-0007", "type": "server", "model": "PowerEdge R650", "owner": "infra-team"},
    "PRN-0311": {"asset_tag": "PRN-0311", "type": "printer", "model": "HP LaserJet M404", "owner": "floor-3"},
}


def lookup_asset(asset_tag: str) -> dict[str, str]:
    """Look up an asset in the CMDB by its tag (for example LAP-0042).

    Args:
        asset_tag: The asset tag, case-insensitive.
    """
    found = ASSETS.get(asset_tag.strip().upper())
    if found is None:
        return {"asset_tag": asset_tag, "error": "unknown asset tag"}
    return dict(found)


def _echo_provider() -> Any:
    from motadata_example_plugin.echo import EchoProvider

    return EchoProvider()


@hookimpl
def register_tools(register: Callable[[Any], None]) -> None:
    """The asset lookup tool."""
    register(lookup_asset)


@hookimpl
def register_llm_providers(register: Callable[..., None]) -> None:
    """The echo chat provider (``model="echo/<anything>"``)."""
    register("echo", _echo_provider)
