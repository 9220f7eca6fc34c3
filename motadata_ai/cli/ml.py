"""``motadata-ai ml train | list | runs | promote | rollback | predict``: the ML framework from the shell.

Each command obtains the tenant's :class:`~motadata_ai.domain.ml.MLSystem` through
``motadata_ai.api.connect()`` (``ai.ml(tenant)``), so it runs on the embedded default (embedded
PostgreSQL registry and experiments, artifacts under the data directory) or on the services
profile. ``train`` shows a progress bar while fitting.

    motadata-ai ml train incidents.csv --model sla --target made_sla \\
        --features priority:categorical,category:categorical,opened_hour:numeric \\
        --group-column number --promote
    motadata-ai ml list
    motadata-ai ml promote sla 2
    motadata-ai ml predict sla --record \\
        '{"priority": "3 - Moderate", "category": "Category 55", "opened_hour": 9}'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

FEATURE_TYPES = ("numeric", "categorical", "text")


def register(subparsers: Any) -> None:
    """Add ``ml`` with its sub-commands."""
    ml = subparsers.add_parser(
        "ml",
        help="train, register, promote and serve models on tenant data",
        description="The ML framework: scikit-learn and PyTorch models per tenant, with a registry.",
    )
    commands = ml.add_subparsers(dest="ml_command", metavar="ML_COMMAND")

    train = commands.add_parser("train", help="train a model from a CSV file and register it")
    train.add_argument("csv", metavar="CSV", help="a CSV file with a header row ('?' and empty = missing)")
    train.add_argument("--model", required=True, help="the model name to register a version of")
    train.add_argument("--target", required=True, help="the column to predict")
    train.add_argument(
        "--features",
        required=True,
        help="comma-separated name:type pairs, type one of numeric, categorical, text",
    )
    train.add_argument("--estimator", default="logistic_regression", help="e.g. random_forest, torch:mlp")
    train.add_argument("--hyperparameters", default="{}", help="a JSON object passed to the estimator")
    train.add_argument(
        "--group-column", default=None, help="rows sharing this value stay on one side of the split"
    )
    train.add_argument("--validation-split", type=float, default=0.2)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--seed", type=int, default=42)
    train.add_argument(
        "--max-missing", type=float, default=0.5, help="largest share of missing values per column"
    )
    train.add_argument("--promote", action="store_true", help="make the new version the champion")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    _common(train)
    train.set_defaults(func=_runner(_train), command=_train)

    listing = commands.add_parser("list", help="list registered models, their versions and aliases")
    listing.add_argument("model", nargs="?", help="show the versions of this model")
    _common(listing)
    listing.set_defaults(func=_runner(_list), command=_list)

    runs = commands.add_parser("runs", help="list training runs, best first by a metric")
    runs.add_argument("--model", default=None)
    runs.add_argument("--metric", default="f1_macro")
    runs.add_argument("--limit", type=int, default=20)
    _common(runs)
    runs.set_defaults(func=_runner(_runs), command=_runs)

    promote = commands.add_parser("promote", help="point an alias (default champion) at a version")
    promote.add_argument("model")
    promote.add_argument("version", type=int)
    promote.add_argument("--alias", default="champion")
    _common(promote)
    promote.set_defaults(func=_runner(_promote), command=_promote)

    rollback = commands.add_parser("rollback", help="move an alias back to its previous version")
    rollback.add_argument("model")
    rollback.add_argument("--alias", default="champion")
    _common(rollback)
    rollback.set_defaults(func=_runner(_rollback), command=_rollback)

    predict = commands.add_parser("predict", help="predict records with a version or an alias")
    predict.add_argument("model")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--record", help="one record as a JSON object")
    source.add_argument("--input", help="a JSON-lines file of records ('-' for standard input)")
    predict.add_argument("--version", type=int, default=None)
    predict.add_argument("--alias", default="champion")
    _common(predict)
    predict.set_defaults(func=_runner(_predict), command=_predict)

    ml.set_defaults(func=lambda args: (ml.print_help(), 2)[1])


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", default="default", help="tenant id (default: default)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


@contextlib.asynccontextmanager
async def open_ml(tenant: str, status: Any = None) -> AsyncIterator[Any]:
    """The tenant's ML system from the configured SDK."""
    from motadata_ai.api import connect

    # no model of the gateway is needed: nothing is loaded ahead
    async with connect(warm_up=False, status=status) as ai:
        system = ai.ml(tenant)
        if inspect.isawaitable(system):
            system = await system
        yield system


def _runner(command: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        async def go() -> int:
            from motadata_ai.cli._startup import status_printer

            async with open_ml(args.tenant, status_printer(args)) as ml:
                result: int = await command(args, ml)
                return result

        return asyncio.run(go())

    return run


def parse_features(text: str) -> list[tuple[str, str]]:
    """``"a:numeric,b:categorical"`` as pairs; a bad type is a ValidationError."""
    from motadata_ai.domain.values.errors import ValidationError

    pairs = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, kind = item.rpartition(":")
        if not name or kind not in FEATURE_TYPES:
            raise ValidationError(
                f"feature {item!r} must be name:type with type one of {', '.join(FEATURE_TYPES)}",
                field="features",
            )
        pairs.append((name, kind))
    if not pairs:
        raise ValidationError("--features names no feature", field="features")
    return pairs


async def _train(args: argparse.Namespace, ml: Any) -> int:
    from tqdm import tqdm

    from motadata_ai.adapters.filesystem import dataset_from_csv
    from motadata_ai.domain.values.errors import ValidationError
    from motadata_ai.domain.values.ml import DatasetSchema, FeatureSpec

    try:
        hyperparameters = json.loads(args.hyperparameters)
    except json.JSONDecodeError as exc:
        raise ValidationError(f"--hyperparameters is not JSON: {exc}", field="hyperparameters") from exc
    schema = DatasetSchema(
        features=tuple(FeatureSpec(name=n, type=t) for n, t in parse_features(args.features)),  # type: ignore[arg-type]
        target=args.target,
        max_missing_fraction=args.max_missing,
        ignore_extra_columns=True,
    )
    dataset = dataset_from_csv(args.csv, schema, group_column=args.group_column)
    bar = tqdm(
        total=1,
        desc=f"train {args.estimator}",
        unit="step",
        file=sys.stderr,
        disable=args.no_progress or args.json,
    )

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        run = await ml.train(
            dataset,
            model_name=args.model,
            estimator=args.estimator,
            hyperparameters=hyperparameters,
            validation_split=args.validation_split,
            batch_size=args.batch_size,
            seed=args.seed,
            progress=progress,
        )
    finally:
        bar.close()
    promoted = None
    if args.promote:
        promoted = await ml.promote(args.model, run.version)
    if args.json:
        payload = run.model_dump(mode="json")
        payload["promoted"] = promoted.model_dump() if promoted else None
        print(json.dumps(payload))
        return 0
    print(
        f"registered {args.model} v{run.version} (run {run.run_id}, {run.duration_s:.2f} s on {run.device})"
    )
    for name, value in run.metrics.items():
        print(f"  {name:<16} {value:.4f}")
    for note in run.notes:
        print(f"  note: {note}")
    if promoted is not None:
        print(f"champion: v{promoted.current} (was {promoted.previous})")
    return 0


async def _list(args: argparse.Namespace, ml: Any) -> int:
    if args.model:
        versions = await ml.list_versions(args.model)
        if args.json:
            print(json.dumps([v.model_dump(mode="json", exclude={"reference"}) for v in versions]))
            return 0
        for v in versions:
            metric = v.metrics.get("f1_macro")
            print(
                f"{v.model_name} v{v.version}  {v.trainer}:{v.estimator}  f1_macro={metric:.4f}  "
                f"sha256={v.artifact_sha256[:12]}  run={v.run_id}  {v.created_at:%Y-%m-%d %H:%M}"
            )
        return 0
    models = await ml.list_models()
    if args.json:
        print(json.dumps([m.model_dump(mode="json") for m in models]))
        return 0
    if not models:
        print(f"no models for tenant {args.tenant}")
    for m in models:
        aliases = ", ".join(f"{a}=v{v}" for a, v in m.aliases.items()) or "no aliases"
        print(f"{m.model_name}  {m.versions} version(s), latest v{m.latest_version}, {aliases}")
    return 0


async def _runs(args: argparse.Namespace, ml: Any) -> int:
    comparison = await ml.compare_runs(model_name=args.model, metric=args.metric, limit=args.limit)
    if args.json:
        print(json.dumps(comparison.model_dump(mode="json")["table"]))
        return 0
    for row in comparison.table:
        value = row.get(args.metric)
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        print(
            f"{row['run_id']}  {row['model_name']} v{row['version']}  "
            f"{row['estimator']:<20} {args.metric}={shown}"
        )
    return 0


async def _promote(args: argparse.Namespace, ml: Any) -> int:
    change = await ml.promote(args.model, args.version, alias=args.alias)
    if args.json:
        print(change.model_dump_json())
    else:
        print(f"{args.model}: {args.alias} -> v{change.current} (was {change.previous})")
    return 0


async def _rollback(args: argparse.Namespace, ml: Any) -> int:
    change = await ml.rollback(args.model, alias=args.alias)
    if args.json:
        print(change.model_dump_json())
    else:
        print(f"{args.model}: {args.alias} rolled back to v{change.current} (from v{change.previous})")
    return 0


async def _predict(args: argparse.Namespace, ml: Any) -> int:
    from motadata_ai.domain.values.errors import ValidationError

    try:
        if args.record is not None:
            records = [json.loads(args.record)]
        else:
            if args.input == "-":
                text = sys.stdin.read()
            else:
                text = await asyncio.to_thread(Path(args.input).read_text)
            records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (json.JSONDecodeError, OSError) as exc:
        raise ValidationError(f"cannot read the records: {exc}", field="record") from exc
    if len(records) == 1:
        predictions = [await ml.predict(args.model, records[0], version=args.version, alias=args.alias)]
    else:
        predictions = await ml.predict_batch(args.model, records, version=args.version, alias=args.alias)
    for prediction in predictions:
        if args.json:
            print(prediction.model_dump_json())
        else:
            probability = (prediction.probabilities or {}).get(prediction.label)
            print(f"{prediction.label}  (p={probability:.3f}, {prediction.model_name} v{prediction.version})")
    return 0
