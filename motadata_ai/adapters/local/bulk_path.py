"""When the local embedder switches large calls to the bfloat16 torch pass (:mod:`.torch_bert`).

Importing torch costs about a second of CPU and some 250 MB of memory, which a query or a small
ingest never earns back. So the switch is made only for a process that has shown it embeds in
bulk: once calls of at least ``min_call_tokens`` tokens have added up to ``warm_after_tokens``,
the torch pass is loaded on a background thread while the calls go on through the float32 pass;
from then on, such calls go to it. Small calls (a query, a short document) always stay on the
float32 pass, whose latency is lower. Where torch is missing or the CPU has no native bfloat16
(:func:`~.torch_bert.bfloat16_native`), or the torch pass fails, the path stays off and every
call keeps the float32 pass.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from typing import Any, Literal

__all__ = ["BULK_MIN_CALL_TOKENS", "BULK_WARM_AFTER_TOKENS", "BulkPath"]

log = logging.getLogger(__name__)

BULK_MIN_CALL_TOKENS = 2_048
"""A call below this many tokens stays on the float32 pass (half of one bfloat16 pass)."""
BULK_WARM_AFTER_TOKENS = 8_192
"""Bulk-sized calls' tokens after which the torch pass is loaded: about 40 Cranfield abstracts, a
second or two of float32 work; the sample knowledge base's whole ingest (6,003 tokens) stays
below it."""

State = Literal["off", "idle", "loading", "ready", "unavailable"]


class BulkPath:
    """The torch pass for large calls of one embedder: counts, loads once, hands it out.

    ``enabled``: ``False`` keeps every call on the float32 pass. Thread-safe.
    """

    def __init__(
        self,
        *,
        enabled: bool = True,
        min_call_tokens: int = BULK_MIN_CALL_TOKENS,
        warm_after_tokens: int = BULK_WARM_AFTER_TOKENS,
    ) -> None:
        self.min_call_tokens = min_call_tokens
        self.warm_after_tokens = warm_after_tokens
        self._state: State = "idle" if enabled else "off"
        self._seen = 0
        self._encoder: Any = None
        self._lock = threading.Lock()
        self._loaded = threading.Event()

    @property
    def state(self) -> State:
        """``off``, ``idle`` (counting), ``loading``, ``ready`` or ``unavailable``."""
        return self._state

    def encoder_for(self, tokens: int, base: Any) -> Any:
        """The torch encoder for a call of ``tokens`` tokens, or ``None``: use the float32 pass.

        ``base``: the loaded float32 encoder, whose weights and tokenizer the torch pass takes.
        """
        if self._state == "ready" and tokens >= self.min_call_tokens:
            return self._encoder
        if self._state != "idle" or tokens < self.min_call_tokens:
            return None
        with self._lock:
            if self._state != "idle":
                return None
            self._seen += tokens
            if self._seen < self.warm_after_tokens:
                return None
            self._state = "loading"
        threading.Thread(target=self._load, args=(base,), name="minilm-bulk-load", daemon=True).start()
        return None

    def failed(self, error: BaseException) -> None:
        """The torch pass raised: turn the path off for good (the call falls back)."""
        log.warning("the bfloat16 embedding pass failed, keeping the float32 pass: %s", error)
        with self._lock:
            self._state, self._encoder = "unavailable", None

    def wait_loaded(self, timeout: float | None = None) -> bool:
        """Wait until a load started by :meth:`encoder_for` has ended; whether one has."""
        return self._loaded.wait(timeout)

    def _load(self, base: Any) -> None:
        try:
            if importlib.util.find_spec("torch") is None:
                self._end("unavailable", None, "torch is not installed")
                return
            from motadata_ai.adapters.local.torch_bert import TorchBertEncoder, bfloat16_native

            if not bfloat16_native():
                self._end("unavailable", None, "this CPU has no native bfloat16")
                return
            self._end("ready", TorchBertEncoder(base), "loaded")
        except Exception as error:  # a broken torch install: the float32 pass stays
            self._end("unavailable", None, f"could not load: {error}")

    def _end(self, state: State, encoder: Any, why: str) -> None:
        log.debug("bulk embedding pass %s (%s)", state, why)
        with self._lock:
            self._state, self._encoder = state, encoder
        self._loaded.set()
