"""The one check of a model name the local adapters serve (``local/<name>`` or ``<name>``)."""

from __future__ import annotations

from motadata_ai.ports.llm import UnknownModel

LOCAL_PROVIDER = "local"


def check_served(model: str, *, served: str, kind: str) -> None:
    """:class:`UnknownModel` unless ``model`` names ``served`` (with or without ``local/``)."""
    name = model.split("/", 1)[1] if model.startswith(f"{LOCAL_PROVIDER}/") else model
    if name != served:
        raise UnknownModel(
            f"the local provider has no {kind} model {name!r}; it serves '{LOCAL_PROVIDER}/{served}'",
            model=model,
            provider=LOCAL_PROVIDER,
            available=[f"{LOCAL_PROVIDER}/{served}"],
        )
