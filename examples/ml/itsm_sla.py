"""ITSM example: will this incident meet its SLA? Train, register, promote and predict.

Runs on the real incident event log (``examples/ml/data/incident_event_log.csv.gz``): one
record per incident with the fields known when it is opened, target ``made_sla`` of its last
event, split by incident number (see ``itsm_data.py``).

    python examples/ml/itsm_sla.py                 # the embedded default, via motadata_ai.api.connect()
    python examples/ml/itsm_sla.py --memory        # in-process stores only, nothing written to disk
    python examples/ml/itsm_sla.py --export incidents_at_opening.csv   # the prepared table, for the CLI

The CLI does the same on the exported table::

    motadata-ai ml train incidents_at_opening.csv --model sla --target made_sla \\
        --features "$(python examples/ml/itsm_sla.py --print-features)" --group-column number --promote
    motadata-ai ml predict sla --record '{"priority": "3 - Moderate", ...}'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import sys
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from itsm_data import DEFAULT_CSV, SCHEMA, features, incident_rows

from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.values.ml import Dataset


@contextlib.asynccontextmanager
async def open_system(tenant: str, *, memory: bool) -> AsyncIterator[MLSystem]:
    """The tenant's ML system: in-process stores, or the configured SDK (embedded by default)."""
    if memory:
        from motadata_ai.adapters.memory.ml import (
            InMemoryArtifactStore,
            InMemoryExperimentStore,
            InMemoryModelRegistry,
            InMemoryPredictionLog,
        )
        from motadata_ai.adapters.sklearn import SklearnTrainer

        yield MLSystem(
            tenant=tenant,
            registry=InMemoryModelRegistry(),
            experiments=InMemoryExperimentStore(),
            artifacts=InMemoryArtifactStore(),
            prediction_log=InMemoryPredictionLog(),
            trainers={"sklearn": SklearnTrainer()},
            log_sample_rate=1.0,
        )
        return
    from motadata_ai.api import connect

    async with connect() as ai:
        system = ai.ml(tenant)
        if asyncio.iscoroutine(system):
            system = await system
        yield system


async def main(args: argparse.Namespace) -> int:
    records, numbers = incident_rows(args.csv)
    dataset = Dataset.from_records(records, SCHEMA, groups=numbers, name="incidents at opening")
    print(f"{len(records)} incidents; made_sla True for {sum(r['made_sla'] == 'True' for r in records)}")
    async with open_system(args.tenant, memory=args.memory) as ml:
        runs = []
        for estimator in args.estimators:
            run = await ml.train(dataset, model_name=args.model, estimator=estimator, seed=42)
            runs.append(run)
            metrics = ", ".join(f"{k} {v:.3f}" for k, v in run.metrics.items() if k != "validation_rows")
            print(f"trained {estimator:<20} v{run.version}: {metrics} ({run.duration_s:.2f} s)")
        comparison = await ml.compare_runs([r.run_id for r in runs], metric="f1_macro")
        best = next(r for r in runs if r.run_id == comparison.best_run_id)
        assert best.version is not None
        change = await ml.promote(args.model, best.version)
        print(f"promoted v{change.current} ({best.estimator}) to champion (was {change.previous})")
        held_out = [features(r) for r in records[:5]]
        for record, prediction in zip(held_out, await ml.predict_batch(args.model, held_out), strict=True):
            probability = (prediction.probabilities or {}).get("True", 0.0)
            print(
                f"  {record['priority']:<13} {record['category']:<13} {record['assignment_group'] or '-':<9}"
                f" -> made_sla={prediction.label} (p(True)={probability:.2f})"
            )
        one = await ml.predict(args.model, held_out[0])
        print(f"single prediction: {one.label} from {args.model} v{one.version}")
        everyday = [features(r) for r in records[::4]]
        report = await ml.drift_report(args.model, everyday)
        print(
            f"drift, every 4th incident ({len(everyday)}): drifted features {list(report.drifted_features)}"
        )
        night = [features(r) for r in records if (r["opened_hour"] or 0) < 7]
        report = await ml.drift_report(args.model, night)
        print(f"drift, incidents opened before 07:00 ({len(night)}): drifted {list(report.drifted_features)}")
        health = await ml.health()
        print(f"health: {health.status}, loaded {list(health.loaded_models)}, {health.memory_used_mb:.2f} MB")
    return 0


def export(path: str, source: Path) -> None:
    """Write the per-incident table (with ``number``) for ``motadata-ai ml train``."""
    records, numbers = incident_rows(source)
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["number", *records[0]])
        writer.writeheader()
        for number, record in zip(numbers, records, strict=True):
            writer.writerow({"number": number, **{k: "" if v is None else v for k, v in record.items()}})
    print(f"wrote {len(records)} incidents to {path}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV, help="the incident event log")
    parser.add_argument("--tenant", default="acme-itsm")
    parser.add_argument("--model", default="incident-sla")
    parser.add_argument(
        "--estimators", nargs="+", default=["logistic_regression", "random_forest", "gradient_boosting"]
    )
    parser.add_argument(
        "--memory", action="store_true", help="in-process stores instead of the configured SDK"
    )
    parser.add_argument("--export", metavar="OUT.csv", help="only write the per-incident table and exit")
    parser.add_argument(
        "--print-features", action="store_true", help="print the --features value for the CLI"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.print_features:
        print(",".join(f"{f.name}:{f.type}" for f in SCHEMA.features))
    elif arguments.export:
        export(arguments.export, arguments.csv)
    else:
        raise SystemExit(asyncio.run(main(arguments)))
