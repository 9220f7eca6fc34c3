"""PyTorch MLP training through the SDK with ``enable_gpu=True`` against the CPU, in one run.

Trains the torch trainer's MLP (tabular + text features) on a synthetic ITSM-like data set
(generated here, so the script needs no data files) through ``MLSystem.train`` on in-memory
stores, once with ``enable_gpu=False`` and once with ``enable_gpu=True``, for a fixed number of
epochs (early stopping off, so both do the same work), at each batch size asked for. Prints the
device each run used (CUDA when PyTorch sees a GPU; otherwise the SDK warns and uses the CPU),
seconds per epoch, rows per second, the speed-up, and both runs' validation accuracy.
The last line is one JSON object.

    python benchmarks/gpu_train.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import time
import warnings
from typing import Any

from motadata_ai.adapters.memory.ml import (
    InMemoryArtifactStore,
    InMemoryExperimentStore,
    InMemoryModelRegistry,
)
from motadata_ai.adapters.torch import TorchTrainer
from motadata_ai.domain.ml import MLSystem
from motadata_ai.domain.values.ml import Dataset, DatasetSchema

SCHEMA = DatasetSchema.of(
    "escalated",
    hours_open="numeric",
    reassignments="numeric",
    category="categorical",
    channel="categorical",
    summary="text",
)
WORDS = [
    "outage",
    "down",
    "slow",
    "password",
    "reset",
    "printer",
    "vpn",
    "disk",
    "full",
    "error",
    "email",
    "access",
    "request",
    "laptop",
    "network",
    "server",
    "database",
    "timeout",
    "crash",
    "update",
]


def synthetic(rows: int, seed: int = 0) -> list[dict[str, Any]]:
    """A learnable binary task over numeric, categorical and text features."""
    rng = random.Random(seed)
    out = []
    for _ in range(rows):
        category = rng.choice(["network", "hardware", "software", "access", "database"])
        words = rng.sample(WORDS, 4)
        hours = rng.gauss(6, 3)
        score = 0.3 * (hours - 6) + (0.8 if category in {"network", "database"} else -0.4)
        score += 0.6 * sum(w in {"outage", "down", "crash", "timeout"} for w in words) + rng.gauss(0, 0.8)
        out.append(
            {
                "hours_open": round(hours, 2),
                "reassignments": float(rng.randint(0, 5)),
                "category": category,
                "channel": rng.choice(["phone", "email", "portal", "chat"]),
                "summary": " ".join(words),
                "escalated": "yes" if score > 0.5 else "no",
            }
        )
    return out


async def train_once(
    dataset: Dataset, *, enable_gpu: bool, batch_size: int, epochs: int, hidden: list[int]
) -> dict[str, Any]:
    ml = MLSystem(
        tenant="gpu-bench",
        registry=InMemoryModelRegistry(),
        experiments=InMemoryExperimentStore(),
        artifacts=InMemoryArtifactStore(),
        trainers={"torch": TorchTrainer()},
        enable_gpu=enable_gpu,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        run = await ml.train(
            dataset,
            model_name="mlp",
            estimator="torch:mlp",
            batch_size=batch_size,
            seed=42,
            hyperparameters={"hidden_sizes": hidden, "max_epochs": epochs, "patience": epochs + 1},
        )
        wall = time.perf_counter() - t0
    trainer = run.parameters["trainer"]
    rows = run.parameters["training_rows"]
    seconds = trainer["seconds"]
    return {
        "enable_gpu": enable_gpu,
        "device": run.device,
        "batch_size": batch_size,
        "epochs": trainer["epochs"],
        "train_loop_s": round(seconds, 3),
        "s_per_epoch": round(seconds / trainer["epochs"], 4),
        "rows_per_s": round(rows * 0.8 * trainer["epochs"] / seconds),
        "wall_s": round(wall, 2),
        "accuracy": round(run.metrics["accuracy"], 4),
        "warnings": [str(w.message) for w in caught if "CUDA" in str(w.message)],
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    print(
        f"python {platform.python_version()}, torch {torch.__version__}, "
        f"CUDA available: {torch.cuda.is_available()}"
        + (f" ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "")
    )
    dataset = Dataset.from_records(synthetic(args.rows), SCHEMA)
    print(f"{args.rows} synthetic rows; MLP hidden {args.hidden}; {args.epochs} epochs, early stopping off")
    warm = Dataset.from_records(synthetic(200, seed=1), SCHEMA)
    for gpu in (False, True):  # CUDA context and kernels start outside the timed runs
        await train_once(warm, enable_gpu=gpu, batch_size=32, epochs=1, hidden=args.hidden)
    results = []
    for batch_size in args.batch_sizes:
        cpu = await train_once(
            dataset, enable_gpu=False, batch_size=batch_size, epochs=args.epochs, hidden=args.hidden
        )
        gpu = await train_once(
            dataset, enable_gpu=True, batch_size=batch_size, epochs=args.epochs, hidden=args.hidden
        )
        speedup = cpu["train_loop_s"] / gpu["train_loop_s"]
        print(f"\nbatch_size={batch_size}")
        for r in (cpu, gpu):
            label = "enable_gpu=True " if r["enable_gpu"] else "enable_gpu=False"
            print(
                f"  {label} device {r['device']:<32} {r['s_per_epoch']:8.4f} s/epoch  "
                f"{r['rows_per_s']:>9} rows/s  accuracy {r['accuracy']:.4f}"
            )
            for w in r["warnings"]:
                print(f"    warning: {w}")
        print(f"  speed-up of enable_gpu=True over CPU: {speedup:.2f}x")
        results.append({"batch_size": batch_size, "cpu": cpu, "gpu": gpu, "speedup": round(speedup, 2)})
    return {
        "cuda_available": torch.cuda.is_available(),
        "device": results[0]["gpu"]["device"],
        "rows": args.rows,
        "epochs": args.epochs,
        "results": [
            {
                "batch_size": r["batch_size"],
                "cpu_s_per_epoch": r["cpu"]["s_per_epoch"],
                "gpu_s_per_epoch": r["gpu"]["s_per_epoch"],
                "speedup": r["speedup"],
                "cpu_accuracy": r["cpu"]["accuracy"],
                "gpu_accuracy": r["gpu"]["accuracy"],
            }
            for r in results
        ],
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a small run (under a minute on a CPU)")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 128])
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 512])
    arguments = parser.parse_args()
    arguments.rows = arguments.rows or (4000 if arguments.quick else 40000)
    arguments.epochs = arguments.epochs or (3 if arguments.quick else 5)
    print(json.dumps(asyncio.run(main(arguments))))
