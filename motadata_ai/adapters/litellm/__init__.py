"""LiteLLM adapters for the LLM and embedding ports (LiteLLM itself loads on first call)."""

from motadata_ai.adapters.litellm._runtime import (
    custom_providers,
    load_litellm,
    register_custom_provider,
    register_model_info,
    unregister_custom_provider,
)
from motadata_ai.adapters.litellm.chat import LiteLLMChat
from motadata_ai.adapters.litellm.embedding import LiteLLMEmbeddings
from motadata_ai.adapters.litellm.errors import translate_error

__all__ = [
    "LiteLLMChat",
    "LiteLLMEmbeddings",
    "custom_providers",
    "load_litellm",
    "register_custom_provider",
    "register_model_info",
    "translate_error",
    "unregister_custom_provider",
]
