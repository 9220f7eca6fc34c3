"""What a cold command imports: the light paths import neither LiteLLM nor torch nor the embedder.

Each command runs as a fresh ``python -X importtime -m motadata_ai.cli ...`` on the services
profile (the test PostgreSQL), over a knowledge base and a model prepared in this process; the
modules a command imported are read from ``-X importtime``'s report.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from motadata_ai.api import connect
from motadata_ai.domain.values.ml import Dataset, DatasetSchema
from motadata_ai.settings import Settings

from ..unit.ml.conftest import SCHEMA, features_of, make_records

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
KB = ROOT / "examples" / "knowledge_base"
HEAVY = {"litellm", "torch", "sentence_transformers", "transformers"}
EMBEDDER = {
    "tokenizers",
    "onnxruntime",
    "motadata_ai.adapters.local.bert",
    "motadata_ai.adapters.local.onnx_bert",
}
TABULAR = DatasetSchema.of("escalated", hours_open="numeric", category="categorical")
# ``-X importtime``'s counters are shared by threads: a module imported on a worker thread
# while another thread imports can be reported with a negative time, so the sign is allowed
_IMPORTED = re.compile(r"^import time:\s+-?\d+ \|\s+-?\d+ \|( *)(\S+)$")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def prepared(
    postgres_dsn: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[dict[str, Any]]:
    """A tenant with the sample knowledge base ingested and a promoted scikit-learn model."""
    data_dir = tmp_path_factory.mktemp("cold")
    tenant = f"cold-{data_dir.name.replace('_', '-')}"[:60]
    settings = Settings(profile="services", postgres_dsn=postgres_dsn, data_dir=data_dir)
    async with connect(settings) as ai:
        report = await ai.rag(tenant).ingest(str(KB))
        assert report.ok and report.created >= 20
        ml = ai.ml(tenant)
        # a TF-IDF setting the twin does not reproduce: this version is served from skops
        other_tfidf = {"preprocess__text:summary__sublinear_tf": True}
        run = await ml.train(
            Dataset.from_records(make_records(120), SCHEMA), model_name="sla", hyperparameters=other_tfidf
        )
        await ml.promote("sla", run.version or 0)
        assert (await ml.get_version("sla")).serving is None
        run = await ml.train(Dataset.from_records(make_records(120), SCHEMA), model_name="sla-text")
        await ml.promote("sla-text", run.version or 0)
        assert (await ml.get_version("sla-text")).serving is not None
        # numeric and categorical features and a linear estimator: the version gets an ONNX twin
        tabular = [{k: v for k, v in r.items() if k != "summary"} for r in make_records(120)]
        run = await ml.train(Dataset.from_records(tabular, TABULAR), model_name="sla-tabular")
        await ml.promote("sla-tabular", run.version or 0)
        assert (await ml.get_version("sla-tabular")).serving is not None
        # a tree ensemble gets one too
        run = await ml.train(
            Dataset.from_records(tabular, TABULAR), model_name="sla-forest", estimator="random_forest"
        )
        await ml.promote("sla-forest", run.version or 0)
        assert (await ml.get_version("sla-forest")).serving is not None
    yield {"dsn": postgres_dsn, "data_dir": data_dir, "tenant": tenant}


def cold(prepared: dict[str, Any], args: Sequence[str]) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run the CLI in a fresh interpreter; returns the result and every module it imported."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MOTADATA_") and not key.endswith("_API_KEY") and key != "PYTEST_CURRENT_TEST"
    }
    env.update(
        MOTADATA_PROFILE="services",
        MOTADATA_POSTGRES_DSN=prepared["dsn"],
        MOTADATA_DATA_DIR=str(prepared["data_dir"]),
        HF_HUB_OFFLINE="1",
    )
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "motadata_ai.cli", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    modules = {m.group(2) for line in result.stderr.splitlines() if (m := _IMPORTED.match(line))}
    assert "motadata_ai" in modules, result.stderr[-2000:]
    return result, modules


def heavy(modules: set[str], forbidden: set[str]) -> set[str]:
    """The forbidden modules (or packages of them) among ``modules``."""
    return ({name.split(".")[0] for name in modules} | modules) & forbidden


def test_help_imports_nothing_heavy(prepared: dict[str, Any]) -> None:
    result, modules = cold(prepared, ["--help"])
    assert result.returncode == 0 and "ingest" in result.stdout
    assert heavy(modules, HEAVY | EMBEDDER | {"numpy", "asyncpg"}) == set()
    # nor the SDK's own start: the settings, the container's library, the value types
    start = {"pydantic", "dependency_injector", "motadata_ai.api", "motadata_ai.settings"}
    assert heavy(modules, start) == set()


@pytest.mark.parametrize(
    "args",
    [
        ["ml", "list"],
        ["ml", "runs"],
        ["ml", "promote", "sla", "1"],
        ["ask", "How do I reset my password?", "--mode", "keyword"],
    ],
    ids=["ml list", "ml runs", "ml promote", "ask keyword"],
)
def test_light_commands_import_neither_litellm_nor_torch_nor_the_embedder(
    prepared: dict[str, Any], args: list[str]
) -> None:
    result, modules = cold(prepared, [*args, "--tenant", prepared["tenant"]])
    assert result.returncode == 0, result.stderr[-2000:]
    assert heavy(modules, HEAVY | EMBEDDER) == set()
    assert "fastapi" not in modules  # the HTTP edge loads only for serve
    if args[0] == "ml":  # no command of the registry counts tokens: the encoding is not loaded
        assert "tiktoken" not in modules


def test_keyword_ask_still_answers_from_the_knowledge_base(prepared: dict[str, Any]) -> None:
    result, _ = cold(
        prepared,
        ["ask", "How do I reset my password?", "--mode", "keyword", "--json", "--tenant", prepared["tenant"]],
    )
    response = json.loads(result.stdout.strip().splitlines()[-1])
    assert any(s["cited"] and "password" in s["title"].lower() for s in response["sources"])


def test_ml_predict_loads_only_the_scikit_learn_model(prepared: dict[str, Any]) -> None:
    record = json.dumps(features_of(make_records(1, seed=3))[0])
    result, modules = cold(
        prepared, ["ml", "predict", "sla", "--record", record, "--tenant", prepared["tenant"]]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert heavy(modules, {"sklearn"})
    assert heavy(modules, (HEAVY - {"torch"}) | EMBEDDER) == set()


def test_ml_predict_of_a_scikit_learn_model_does_not_import_torch(prepared: dict[str, Any]) -> None:
    record = json.dumps(features_of(make_records(1, seed=3))[0])
    result, modules = cold(
        prepared, ["ml", "predict", "sla", "--record", record, "--tenant", prepared["tenant"]]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert heavy(modules, {"torch"}) == set()
    # skops' trusted-type scan no longer imports the scikit-learn packages it skips
    skipped = ("sklearn.externals.array_api_compat.torch", "sklearn.tests")
    assert not {m for m in modules if m.startswith(skipped)}


@pytest.mark.parametrize("model", ["sla-tabular", "sla-forest", "sla-text"])
def test_ml_predict_with_an_onnx_twin_imports_no_scikit_learn(prepared: dict[str, Any], model: str) -> None:
    fields = {"hours_open": 9.0, "category": "network"}
    record = json.dumps({**fields, "summary": "VPN gateway down"} if model == "sla-text" else fields)
    args = ["ml", "predict", model, "--record", record, "--json", "--tenant", prepared["tenant"]]
    result, modules = cold(prepared, args)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "onnxruntime" in modules
    assert heavy(modules, {"sklearn", "scipy", "pandas", "skops", "skl2onnx", "onnx"} | HEAVY) == set()
    prediction = json.loads(result.stdout.strip().splitlines()[-1])
    assert prediction["model_name"] == model and prediction["label"] in ("yes", "no")


def test_hybrid_ask_loads_the_embedder_without_litellm_or_torch(prepared: dict[str, Any]) -> None:
    result, modules = cold(prepared, ["ask", "How do I reset my password?", "--tenant", prepared["tenant"]])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "motadata_ai.adapters.local.bert" in modules
    assert "onnxruntime" in modules  # the `local` extra: the forward pass on onnxruntime
    assert heavy(modules, HEAVY | {"onnx"}) == set()  # the graph is written without the onnx package
    assert "loading the embedding model…" in result.stderr or "Sources:" in result.stdout


def test_a_small_ingest_stays_on_the_float32_pass_without_torch(prepared: dict[str, Any]) -> None:
    # the sample knowledge base, for a tenant that holds none of it yet: every chunk is embedded
    tenant = f"{prepared['tenant']}-small"[:60]
    result, modules = cold(prepared, ["ingest", str(KB), "--tenant", tenant])
    assert result.returncode == 0, result.stderr[-2000:]
    assert "onnxruntime" in modules  # the float32 pass embedded it
    assert heavy(modules, HEAVY) == set()  # the bulk path's torch was never loaded
