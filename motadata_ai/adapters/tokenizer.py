"""TiktokenTokenizer: the TokenizerPort on tiktoken's ``cl100k_base``, loaded offline.

tiktoken downloads encodings on first use; LiteLLM's wheel carries ``cl100k_base`` in its
``litellm_core_utils/tokenizers`` folder, so that folder is used as ``TIKTOKEN_CACHE_DIR`` (unless
the variable is set) without importing LiteLLM. One tokenizer sizes chunks, overlaps and context
budgets, so token counts agree everywhere.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

from motadata_ai.domain.retrieval.tokens import approximate_token_count, truncate_to_tokens
from motadata_ai.ports.text import TokenizerPort

__all__ = ["ApproximateTokenizer", "DeferredTokenizer", "TiktokenTokenizer", "default_tokenizer"]


class TiktokenTokenizer(TokenizerPort):
    """Counts with a tiktoken encoding (``cl100k_base`` by default)."""

    def __init__(self, encoding: str = "cl100k_base") -> None:
        _use_bundled_encodings()
        import tiktoken

        self._encoding: Any = tiktoken.get_encoding(encoding)
        self.name = f"tiktoken:{encoding}"

    def count(self, text: str) -> int:
        """Exact token count (special-token text is counted as ordinary text)."""
        return len(self._encoding.encode(text, disallowed_special=()))

    def truncate(self, text: str, max_tokens: int) -> str:
        """Decode the first ``max_tokens`` tokens."""
        if max_tokens <= 0:
            return ""
        tokens = self._encoding.encode(text, disallowed_special=())
        return text if len(tokens) <= max_tokens else str(self._encoding.decode(tokens[:max_tokens]))


def _use_bundled_encodings() -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        return
    bundled = Path(next(iter(spec.submodule_search_locations))) / "litellm_core_utils" / "tokenizers"
    if bundled.is_dir():
        os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)


class ApproximateTokenizer(TokenizerPort):
    """Dependency-free estimate (one token per word or mark); used when tiktoken cannot load."""

    name = "approximate"

    def count(self, text: str) -> int:
        """Estimated tokens."""
        return approximate_token_count(text)

    def truncate(self, text: str, max_tokens: int) -> str:
        """Longest word prefix within the estimate."""
        return truncate_to_tokens(text, max_tokens, approximate_token_count)


@functools.cache
def _chosen_tokenizer() -> TokenizerPort:
    try:
        return TiktokenTokenizer()
    except Exception:  # no cached encoding and no network: count approximately rather than fail
        return ApproximateTokenizer()


class DeferredTokenizer(TokenizerPort):
    """tiktoken ``cl100k_base`` when its encoding file loads offline, else the approximation,
    chosen on first use: loading the encoding takes about 0.2 s, which a process that never counts
    tokens (``motadata-ai ml predict``) does not pay. :meth:`warm_up` chooses it ahead."""

    @property  # type: ignore[override]
    def name(self) -> str:
        """The chosen tokenizer's name (``tiktoken:cl100k_base`` or ``approximate``)."""
        return _chosen_tokenizer().name

    def warm_up(self) -> None:
        """Load the encoding now (``connect()`` does it on a worker thread for a searching app)."""
        _chosen_tokenizer()

    def count(self, text: str) -> int:
        """Tokens in ``text``, by the chosen tokenizer."""
        return _chosen_tokenizer().count(text)

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix within ``max_tokens``, by the chosen tokenizer."""
        return _chosen_tokenizer().truncate(text, max_tokens)


@functools.cache
def default_tokenizer() -> TokenizerPort:
    """tiktoken ``cl100k_base`` when its encoding file loads offline, else the approximation
    (chosen on first use, see :class:`DeferredTokenizer`)."""
    return DeferredTokenizer()
