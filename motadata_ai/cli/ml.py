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
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import click

from motadata_ai.cli._group import SuggestingGroup, global_options, run

FEATURE_TYPES = ("numeric", "categorical", "text")

MLBody = Callable[[argparse.Namespace, Any], Coroutine[Any, Any, int]]


@click.group(
    "ml",
    cls=SuggestingGroup,
    short_help="Train, register, promote and serve models on tenant data.",
    epilog="""\b
Examples:
  motadata-ai ml train incidents.csv --model sla --target made_sla \\
      --features priority:categorical,category:categorical,opened_hour:numeric \\
      --group-column number --promote
  motadata-ai ml list
  motadata-ai ml promote sla 2
  motadata-ai ml predict sla --record '{"priority": "3 - Moderate", "opened_hour": 9}'

\b
Variables: MOTADATA_MAX_MEMORY_MB, MOTADATA_ENABLE_GPU, MOTADATA_DATA_DIR (artifacts).""",
)
@global_options()
def ml() -> None:
    """The ML framework: scikit-learn and PyTorch models per tenant, with a registry."""


def ml_command(name: str, body: MLBody, **settings: Any) -> Callable[[Callable[..., Any]], click.Command]:
    """A ``motadata-ai ml NAME`` command running ``body(args, ml_system)`` on the tenant's ML
    system; the command keeps ``body`` (``command.body``) so it can run on another system."""

    def decorate(function: Callable[..., Any]) -> click.Command:
        def callback(**_: Any) -> int:
            ctx = click.get_current_context()
            return run(lambda args: _with_ml(body, args), ctx)

        callback.__doc__ = function.__doc__
        command = ml.command(name, **settings)(global_options()(_copy_params(function, callback)))
        command.body = body  # type: ignore[attr-defined]
        return command

    return decorate


def _copy_params(source: Callable[..., Any], target: Callable[..., Any]) -> Callable[..., Any]:
    target.__click_params__ = list(getattr(source, "__click_params__", []))  # type: ignore[attr-defined]
    return target


async def _with_ml(body: MLBody, args: argparse.Namespace) -> int:
    from motadata_ai.cli._startup import status_printer

    async with open_ml(args.tenant, status_printer(args)) as system:
        return await body(args, system)


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
        features=tuple(FeatureSpec(name=n, type=t) for n, t in parse_features(args.features)),
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
    if run.metrics.get("predicted_classes") == 1.0:
        click.echo(
            f"warning: {args.model} v{run.version} predicts one class for every validation row (the "
            "majority class): its accuracy is that class's share, not skill; try other features, "
            'another estimator or class weights (e.g. --hyperparameters \'{"class_weight": "balanced"}\')',
            err=True,
        )
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
    if args.trace_id:
        traced = await ml.list_runs(model_name=args.model, trace_id=args.trace_id, limit=args.limit)
        comparison = await ml.compare_runs([r.run_id for r in traced], metric=args.metric)
    else:
        comparison = await ml.compare_runs(model_name=args.model, metric=args.metric, limit=args.limit)
    if args.json:
        print(json.dumps(comparison.model_dump(mode="json")["table"]))
        return 0
    for row in comparison.table:
        value = row.get(args.metric)
        shown = f"{value:.4f}" if isinstance(value, float) else "-"
        trace = f"  trace={row['trace_id']}" if row.get("trace_id") else ""
        print(
            f"{row['run_id']}  {row['model_name']} v{row['version']}  "
            f"{row['estimator']:<20} {args.metric}={shown}{trace}"
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

    if (args.record is None) == (args.input is None):
        raise click.UsageError("give exactly one of --record and --input")
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


# --- the commands -------------------------------------------------------------------------------


@ml_command(
    "train",
    _train,
    short_help="Train a model from a CSV file and register it.",
    epilog="""\b
Example:
  motadata-ai ml train tickets.csv --model esc --target escalated \\
      --features hours_open:numeric,category:categorical,summary:text --promote

\b
Warns on standard error when the model predicts one class for every validation row.""",
)
@click.argument("csv", metavar="CSV")
@click.option("--model", required=True, metavar="NAME", help="The model name to register a version of.")
@click.option("--target", required=True, metavar="COLUMN", help="The column to predict.")
@click.option(
    "--features",
    required=True,
    metavar="NAME:TYPE,...",
    help="Comma-separated name:type pairs, type one of numeric, categorical, text.",
)
@click.option(
    "--estimator",
    default="logistic_regression",
    show_default=True,
    help="e.g. random_forest, decision_tree, torch:mlp.",
)
@click.option(
    "--hyperparameters", default="{}", metavar="JSON", help="A JSON object passed to the estimator."
)
@click.option(
    "--group-column",
    default=None,
    metavar="COLUMN",
    help="Rows sharing this value stay on one side of the split.",
)
@click.option(
    "--validation-split",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of rows held out for the metrics.",
)
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Batch size (PyTorch estimators).",
)
@click.option(
    "--seed", type=int, default=42, show_default=True, help="Random seed of the split and the estimator."
)
@click.option(
    "--max-missing",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Largest share of missing values per column.",
)
@click.option("--promote", is_flag=True, help="Make the new version the champion.")
@click.option("--no-progress", is_flag=True, help="No progress bar on standard error.")
def train() -> None:
    """Train a model on CSV (a header row; '?' and empty cells are missing) and register it."""


@ml_command("list", _list, short_help="List registered models, their versions and aliases.")
@click.argument("model", required=False, metavar="[MODEL]")
def list_models() -> None:
    """List the tenant's models, or the versions of MODEL."""


@ml_command("runs", _runs, short_help="List training runs, best first by a metric.")
@click.option("--model", default=None, metavar="NAME", help="Only the runs of this model.")
@click.option("--metric", default="f1_macro", show_default=True, help="The metric to sort by.")
@click.option(
    "--trace-id", default=None, metavar="ID", help="Only the runs trained in this trace (any status)."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to show."
)
def runs() -> None:
    """List training runs, best first."""


@ml_command(
    "promote",
    _promote,
    short_help="Point an alias (default champion) at a version.",
    epilog="""\b
Example:
  motadata-ai ml promote sla 2 --alias champion""",
)
@click.argument("model", metavar="MODEL")
@click.argument("version", type=int, metavar="VERSION")
@click.option("--alias", default="champion", show_default=True, help="The alias to move.")
def promote() -> None:
    """Point an alias of MODEL at VERSION."""


@ml_command("rollback", _rollback, short_help="Move an alias back to its previous version.")
@click.argument("model", metavar="MODEL")
@click.option("--alias", default="champion", show_default=True, help="The alias to move back.")
def rollback() -> None:
    """Move an alias of MODEL back to the version it pointed at before."""


@ml_command(
    "predict",
    _predict,
    short_help="Predict records with a version or an alias.",
    epilog="""\b
Examples:
  motadata-ai ml predict sla --record '{"priority": "3 - Moderate", "opened_hour": 9}'
  motadata-ai ml predict sla --input records.jsonl --version 2 --json""",
)
@click.argument("model", metavar="MODEL")
@click.option("--record", default=None, metavar="JSON", help="One record as a JSON object.")
@click.option(
    "--input",
    "input",
    default=None,
    metavar="FILE",
    help="A JSON-lines file of records ('-' for standard input).",
)
@click.option("--version", type=int, default=None, help="The version to use (default: the alias).")
@click.option(
    "--alias", default="champion", show_default=True, help="The alias to use when no --version is given."
)
def predict() -> None:
    """Predict one record (--record) or a JSON-lines file of them (--input) with MODEL."""
