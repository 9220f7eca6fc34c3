"""``motadata-ai ml ...``: argument parsing and each command on an in-memory ML system."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from motadata_ai.adapters.memory.telemetry import RecordingTelemetry
from motadata_ai.adapters.sklearn import SklearnTrainer
from motadata_ai.cli import parse
from motadata_ai.cli._group import arguments
from motadata_ai.cli.ml import parse_features
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.ml.tracing import TracedMLSystem
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Dataset

from .conftest import SCHEMA, Stores, make_records


def write_csv(path: Path) -> None:
    rows = make_records(120)
    lines = ["ticket,hours_open,category,summary,escalated,ignored"]
    for i, r in enumerate(rows):
        hours = "?" if r["hours_open"] is None else r["hours_open"]
        lines.append(f"T{i // 2},{hours},{r['category']},{r['summary']},{r['escalated']},x")
    path.write_text("\n".join(lines) + "\n")


async def run(argv: list[str], ml: MLSystem, capsys: pytest.CaptureFixture[str]) -> str:
    command, ctx = parse(["ml", *argv])
    assert await command.body(arguments(ctx), ml) == 0  # type: ignore[attr-defined]
    return capsys.readouterr().out


async def test_train_list_promote_predict(
    tmp_path: Path, make_system: Callable[..., MLSystem], capsys: pytest.CaptureFixture[str]
) -> None:
    ml = make_system()
    csv = tmp_path / "tickets.csv"
    write_csv(csv)
    common = ["--target", "escalated", "--features", "hours_open:numeric,category:categorical,summary:text"]
    out = await run(
        [
            "train",
            str(csv),
            "--model",
            "esc",
            *common,
            "--group-column",
            "ticket",
            "--promote",
            "--no-progress",
        ],
        ml,
        capsys,
    )
    assert "registered esc v1" in out and "champion: v1" in out
    out = await run(
        ["train", str(csv), "--model", "esc", *common, "--estimator", "decision_tree", "--json"], ml, capsys
    )
    assert json.loads(out)["version"] == 2
    assert "esc  2 version(s), latest v2, champion=v1" in await run(["list"], ml, capsys)
    assert "decision_tree" in await run(["list", "esc"], ml, capsys)
    assert len(json.loads(await run(["runs", "--json"], ml, capsys))) == 2
    assert "champion -> v2 (was 1)" in await run(["promote", "esc", "2"], ml, capsys)
    record = {"hours_open": 9, "category": "network", "summary": "production outage"}
    prediction = json.loads(
        await run(["predict", "esc", "--record", json.dumps(record), "--json"], ml, capsys)
    )
    assert prediction["version"] == 2
    assert "rolled back to v1" in await run(["rollback", "esc"], ml, capsys)
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(record | {"hours_open": h}) for h in range(5)))
    lines = (await run(["predict", "esc", "--input", str(batch)], ml, capsys)).splitlines()
    assert len(lines) == 5 and all("esc v1" in line for line in lines)


def test_bad_features_are_validation_errors() -> None:
    assert parse_features("a:numeric, b:text") == [("a", "numeric"), ("b", "text")]
    for bad in ("a:number", "a", ""):
        with pytest.raises(ValidationError):
            parse_features(bad)


async def test_train_warns_when_the_model_only_predicts_the_majority_class(
    tmp_path: Path, make_system: Callable[..., MLSystem], capsys: pytest.CaptureFixture[str]
) -> None:
    import random

    rng = random.Random(7)
    csv = tmp_path / "skewed.csv"
    rows = [f"{rng.random():.4f},{'yes' if i % 20 == 0 else 'no'}" for i in range(200)]
    csv.write_text("noise,escalated\n" + "\n".join(rows) + "\n")
    ml = make_system()
    argv = ["train", str(csv), "--model", "skewed", "--target", "escalated", "--features", "noise:numeric"]
    command, ctx = parse(["ml", *argv, "--no-progress"])
    assert await command.body(arguments(ctx), ml) == 0  # type: ignore[attr-defined]
    err = capsys.readouterr().err
    assert "warning: skewed v1 predicts one class for every validation row (the majority class)" in err

    good = tmp_path / "tickets.csv"
    write_csv(good)
    features = "hours_open:numeric,category:categorical,summary:text"
    command, ctx = parse(["ml", "train", str(good), "--model", "esc", "--target", "escalated",
                          "--features", features, "--no-progress"])
    assert await command.body(arguments(ctx), ml) == 0  # type: ignore[attr-defined]
    assert "warning" not in capsys.readouterr().err


async def test_runs_show_their_trace_and_are_found_by_it(
    stores: Stores, capsys: pytest.CaptureFixture[str]
) -> None:
    ml = TracedMLSystem(
        tenant="tenant-a",
        registry=stores.registry,
        experiments=stores.experiments,
        artifacts=stores.artifacts,
        prediction_log=stores.log,
        trainers={"sklearn": SklearnTrainer()},
        telemetry=RecordingTelemetry(),
    )
    dataset = Dataset.from_records(make_records(60), SCHEMA)
    first = await ml.train(dataset, model_name="esc")
    second = await ml.train(dataset, model_name="esc")
    assert first.trace_id and second.trace_id and first.trace_id != second.trace_id
    listed = await run(["runs", "--model", "esc"], ml, capsys)
    assert f"trace={first.trace_id}" in listed and f"trace={second.trace_id}" in listed
    (found,) = json.loads(await run(["runs", "--trace-id", first.trace_id, "--json"], ml, capsys))
    assert (found["run_id"], found["trace_id"]) == (first.run_id, first.trace_id)
