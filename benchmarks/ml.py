"""ML framework benchmark on the ITSM task, against plain scikit-learn in the same run.

Task: predict whether an incident meets its SLA (``made_sla`` of its last event) from the fields
known when it is opened (one row per incident; see examples/ml/itsm_data.py). The SDK trains
through ``MLSystem.train`` (validation, dataset hash, reference profile, skops artifact on disk,
registry); the baseline is a hand-written scikit-learn pipeline with the same preprocessing and
estimator on the *same* split (the SDK's own split by incident number, seed 42).

Figures: macro F1 of both on the held-out incidents, training wall time of both (the SDK's
overhead), single-prediction p50/p95 on a warm model (cache off; plain ``predict_proba`` on a
one-row DataFrame as baseline), a 1,000-row batch, model load from the registry (registry lookup,
file read, SHA-256 check, allow-listed skops load). Targets: p95 <= 5 ms, batch <= 100 ms,
load <= 200 ms. The last line is one JSON object.

    python benchmarks/ml.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples" / "ml"))

from itsm_data import SCHEMA, features, incident_rows

from motadata_ai.adapters.filesystem import FilesystemArtifactStore
from motadata_ai.adapters.memory.cache import InMemoryCache
from motadata_ai.adapters.memory.ml import InMemoryExperimentStore, InMemoryModelRegistry
from motadata_ai.adapters.sklearn import SklearnTrainer
from motadata_ai.domain.ml import MLSystem, split_indices
from motadata_ai.domain.values.ml import Dataset

TARGETS = {"predict_p95_ms": 5.0, "batch1000_ms": 100.0, "load_ms": 200.0}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def plain_sklearn_pipeline(estimator: str, seed: int) -> Any:
    """The baseline, written the way a scikit-learn user would."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f.name for f in SCHEMA.features if f.type == "numeric"]
    categorical = [f.name for f in SCHEMA.features if f.type == "categorical"]
    models = {
        "logistic_regression": LogisticRegression(max_iter=2000, random_state=seed),
        "random_forest": RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1),
        "gradient_boosting": GradientBoostingClassifier(random_state=seed),
    }
    return Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        (
                            "numeric",
                            Pipeline(
                                [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
                            ),
                            numeric,
                        ),
                        (
                            "categorical",
                            Pipeline(
                                [
                                    ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
                                    ("onehot", OneHotEncoder(handle_unknown="ignore")),
                                ]
                            ),
                            categorical,
                        ),
                    ]
                ),
            ),
            ("estimator", models[estimator]),
        ]
    )


def frame(records: list[dict[str, Any]]) -> Any:
    import numpy as np
    import pandas as pd

    columns = {}
    for spec in SCHEMA.features:
        values = [r.get(spec.name) for r in records]
        if spec.type == "numeric":
            columns[spec.name] = np.array([np.nan if v is None else v for v in values], dtype=float)
        else:
            columns[spec.name] = np.array([np.nan if v is None else v for v in values], dtype=object)
    return pd.DataFrame(columns)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from sklearn.metrics import f1_score, roc_auc_score

    started = time.perf_counter()
    records, numbers = incident_rows()
    labels = [r["made_sla"] for r in records]
    dataset = Dataset.from_records(records, SCHEMA, groups=numbers)
    print(
        f"ITSM incidents: {len(records)} (one row per incident), {len(SCHEMA.features)} features at opening"
    )

    with tempfile.TemporaryDirectory(prefix="motadata-ml-bench-") as root:
        ml = MLSystem(
            tenant="bench",
            registry=InMemoryModelRegistry(),
            experiments=InMemoryExperimentStore(),
            artifacts=FilesystemArtifactStore(root),
            trainers={"sklearn": SklearnTrainer()},
            cache_predictions=False,
        )
        # the first training pays one-time imports (skops imports every scikit-learn estimator)
        t0 = time.perf_counter()
        await ml.train(dataset, model_name="incident-sla", estimator=args.estimator, seed=42)
        cold_train_s = time.perf_counter() - t0
        train_idx, val_idx = split_indices(labels, validation_split=0.2, seed=42, groups=numbers)
        sdk_times, plain_times = [], []
        for _ in range(args.repeats):  # alternate, so load on the machine hits both sides alike
            t0 = time.perf_counter()
            run_ = await ml.train(dataset, model_name="incident-sla", estimator=args.estimator, seed=42)
            sdk_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            baseline = plain_sklearn_pipeline(args.estimator, 42)
            baseline.fit(frame([features(records[i]) for i in train_idx]), [labels[i] for i in train_idx])
            plain_times.append(time.perf_counter() - t0)
        sdk_train_s, sklearn_train_s = statistics.median(sdk_times), statistics.median(plain_times)
        await ml.promote("incident-sla", run_.version or 1)
        validation = frame([features(records[i]) for i in val_idx])
        truth = [labels[i] for i in val_idx]
        sklearn_f1 = float(f1_score(truth, baseline.predict(validation), average="macro"))
        positive = list(baseline.classes_).index("True")
        sklearn_auc = float(
            roc_auc_score([t == "True" for t in truth], baseline.predict_proba(validation)[:, positive])
        )
        sdk_f1 = run_.metrics["f1_macro"]

        print(f"\nmacro F1 on {len(val_idx)} held-out incidents ({args.estimator}, same split):")
        print(f"  SDK              {sdk_f1:.4f}   ROC-AUC {run_.metrics.get('roc_auc', float('nan')):.4f}")
        print(f"  plain sklearn    {sklearn_f1:.4f}   ROC-AUC {sklearn_auc:.4f}")
        print(f"  difference       {sdk_f1 - sklearn_f1:+.4f}")
        print(
            f"training wall time (median of {args.repeats}, alternating; "
            f"first SDK training {cold_train_s:.1f} s cold):"
        )
        print(
            f"  SDK              {sdk_train_s * 1000:8.1f} ms "
            "(validate, split, fit, evaluate, skops, write, register)"
        )
        print(f"  plain sklearn    {sklearn_train_s * 1000:8.1f} ms (fit)")
        print(f"  SDK overhead     {(sdk_train_s - sklearn_train_s) * 1000:8.1f} ms")

        rng = random.Random(7)
        queries = [features(records[i]) for i in val_idx]
        for query in queries[:20]:  # warm up
            await ml.predict("incident-sla", query)
        singles: list[float] = []
        for i in range(args.predictions):
            query = queries[i % len(queries)]
            t0 = time.perf_counter()
            await ml.predict("incident-sla", query)
            singles.append((time.perf_counter() - t0) * 1000)
        plain_singles: list[float] = []
        for i in range(args.predictions):
            query = queries[i % len(queries)]
            t0 = time.perf_counter()
            baseline.predict_proba(frame([query]))
            plain_singles.append((time.perf_counter() - t0) * 1000)
        cached = MLSystem(
            tenant="bench",
            registry=ml._registry,
            experiments=ml._experiments,
            artifacts=ml._artifacts,
            trainers={"sklearn": SklearnTrainer()},
            cache=InMemoryCache(),
        )
        await cached.predict("incident-sla", queries[0])
        hits: list[float] = []
        for _ in range(args.predictions):
            t0 = time.perf_counter()
            await cached.predict("incident-sla", queries[0])
            hits.append((time.perf_counter() - t0) * 1000)
        print(f"\nsingle prediction, warm model ({args.predictions} calls):")
        print(
            f"  SDK predict      p50 {percentile(singles, 0.5):6.2f} ms   "
            f"p95 {percentile(singles, 0.95):6.2f} ms"
        )
        print(
            f"  plain sklearn    p50 {percentile(plain_singles, 0.5):6.2f} ms   "
            f"p95 {percentile(plain_singles, 0.95):6.2f} ms  (predict_proba on a 1-row DataFrame)"
        )
        print(
            f"  SDK cache hit    p50 {percentile(hits, 0.5):6.2f} ms   p95 {percentile(hits, 0.95):6.2f} ms"
        )

        batch = [features(records[rng.randrange(len(records))]) for _ in range(1000)]
        batch_times, plain_batch = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            await ml.predict_batch("incident-sla", batch)
            batch_times.append((time.perf_counter() - t0) * 1000)
            t0 = time.perf_counter()
            baseline.predict_proba(frame(batch))
            plain_batch.append((time.perf_counter() - t0) * 1000)
        print(f"1,000-row batch (median of {args.repeats}):")
        print(f"  SDK predict_batch {statistics.median(batch_times):7.1f} ms (signature check + predict)")
        print(f"  plain sklearn     {statistics.median(plain_batch):7.1f} ms (DataFrame + predict_proba)")

        loads = []
        for _ in range(args.repeats):
            ml.unload("incident-sla")
            t0 = time.perf_counter()
            await ml.load("incident-sla")
            loads.append((time.perf_counter() - t0) * 1000)
        version = await ml.get_version("incident-sla")
        data = (Path(root) / "bench" / version.artifact_key).read_bytes()
        import skops.io as sio

        plain_loads = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            sio.loads(data, trusted=sio.get_untrusted_types(data=data))
            plain_loads.append((time.perf_counter() - t0) * 1000)
        print(f"model load (median of {args.repeats}, {version.artifact_size / 1024:.0f} KiB artifact):")
        print(
            f"  SDK load          {statistics.median(loads):7.1f} ms "
            "(registry + read + SHA-256 + allow-list + skops)"
        )
        print(f"  plain skops.loads {statistics.median(plain_loads):7.1f} ms (bytes in memory)")

    result = {
        "estimator": args.estimator,
        "sdk_metric": round(sdk_f1, 4),
        "sklearn_metric": round(sklearn_f1, 4),
        "metric": "f1_macro",
        "sdk_train_ms": round(sdk_train_s * 1000, 1),
        "sdk_cold_train_ms": round(cold_train_s * 1000, 1),
        "sklearn_train_ms": round(sklearn_train_s * 1000, 1),
        "predict_p50_ms": round(percentile(singles, 0.5), 3),
        "predict_p95_ms": round(percentile(singles, 0.95), 3),
        "sklearn_predict_p95_ms": round(percentile(plain_singles, 0.95), 3),
        "cache_hit_p95_ms": round(percentile(hits, 0.95), 3),
        "batch1000_ms": round(statistics.median(batch_times), 1),
        "sklearn_batch1000_ms": round(statistics.median(plain_batch), 1),
        "load_ms": round(statistics.median(loads), 1),
        "skops_load_ms": round(statistics.median(plain_loads), 1),
        "seconds": round(time.perf_counter() - started, 1),
    }
    met = {k: result[k] <= v for k, v in TARGETS.items()}
    print(
        "\ntargets: "
        + ", ".join(f"{k} <= {v:g}: {'met' if met[k] else 'MISSED'}" for k, v in TARGETS.items())
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (under a minute)")
    parser.add_argument(
        "--estimator",
        default="logistic_regression",
        choices=["logistic_regression", "random_forest", "gradient_boosting"],
    )
    args = parser.parse_args()
    args.predictions = 200 if args.quick else 1000
    args.repeats = 3 if args.quick else 7
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
