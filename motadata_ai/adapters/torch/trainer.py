"""TorchTrainer: an MLP over tabular and text features behind TrainerPort; safetensors artifacts.

Training: the encoder's dense features, mini-batches (``batch_size``), Adam, early stopping on an
inner validation split (``validation_split`` of the training rows, patience in epochs), fixed
seeds. ``enable_gpu=True`` trains on CUDA when PyTorch sees a GPU and says so; otherwise it warns
and trains on the CPU. Serving runs on the CPU.

Artifact: one safetensors file — the state dict as tensors, and in its metadata the architecture,
the classes, the feature signature and the encoder state as JSON. Loading parses only JSON and
raw tensors; nothing is unpickled.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import random
import struct
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from motadata_ai.adapters.torch.encoding import TabularEncoder
from motadata_ai.domain.values.errors import ValidationError
from motadata_ai.domain.values.ml import Dataset, FeatureSpec
from motadata_ai.ports.ml import (
    ArtifactRefused,
    FitResult,
    ProgressCallback,
    TrainedModel,
    TrainerPort,
    TrainingFailed,
    UnknownEstimator,
)

logger = logging.getLogger(__name__)

ARTIFACT_FORMAT = "motadata-mlp/1"
DEFAULTS: dict[str, Any] = {
    "hidden_sizes": [128, 64],
    "dropout": 0.1,
    "learning_rate": 1e-3,
    "weight_decay": 0.0,
    "max_epochs": 100,
    "patience": 5,
    "text_max_features": 2000,
}


class GpuUnavailableWarning(RuntimeWarning):
    """``enable_gpu=True`` but PyTorch sees no CUDA device: training falls back to the CPU."""


def select_device(enable_gpu: bool) -> tuple[str, str | None]:
    """``("cuda", None)`` with a GPU when asked and present, else ``("cpu", note)``."""
    import torch

    if not enable_gpu:
        return "cpu", None
    if torch.cuda.is_available():
        name = torch.cuda.get_device_name(0)
        logger.info("training on CUDA device %s", name)
        return "cuda", None
    note = "enable_gpu=True but no CUDA device is available; training on the CPU"
    warnings.warn(note, GpuUnavailableWarning, stacklevel=3)
    logger.warning(note)
    return "cpu", note


def _build_network(input_size: int, hidden_sizes: Sequence[int], classes: int, dropout: float) -> Any:
    import torch.nn as nn

    layers: list[Any] = []
    width = input_size
    for size in hidden_sizes:
        layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
        width = size
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


class TorchModel(TrainedModel):
    """An MLP with its encoder; predicts on the CPU."""

    trainer = "torch"

    def __init__(
        self,
        network: Any,
        encoder: TabularEncoder,
        classes: Sequence[str],
        features: Sequence[FeatureSpec],
        architecture: dict[str, Any],
    ) -> None:
        self.network = network.to("cpu").eval()
        self.encoder = encoder
        self._classes = tuple(classes)
        self.features = tuple(features)
        self.architecture = architecture

    @property
    def classes(self) -> tuple[str, ...]:
        """Class labels in output order."""
        return self._classes

    def predict_proba(self, records: Sequence[dict[str, Any]]) -> list[list[float]]:
        """Softmax of the network's outputs."""
        import torch

        features = torch.from_numpy(self.encoder.transform(records))
        with torch.inference_mode():
            probabilities: list[list[float]] = torch.softmax(self.network(features), dim=1).tolist()
        return probabilities

    def size_bytes(self) -> int:
        """Parameter and buffer bytes plus the encoder's state."""
        tensors = [*self.network.parameters(), *self.network.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors) + self.encoder.size_bytes()


class TorchTrainer(TrainerPort):
    """PyTorch MLP classifier (estimator ``mlp``)."""

    name = "torch"
    artifact_format = "safetensors"

    def __init__(self, *, num_threads: int | None = None) -> None:
        self.num_threads = num_threads

    def estimators(self) -> tuple[str, ...]:
        """Only ``mlp``."""
        return ("mlp",)

    async def fit(
        self,
        dataset: Dataset,
        *,
        estimator: str,
        hyperparameters: dict[str, Any],
        validation_split: float,
        batch_size: int,
        seed: int,
        enable_gpu: bool,
        progress: ProgressCallback | None = None,
    ) -> FitResult:
        """Train in a worker thread; hyperparameters: ``hidden_sizes``, ``dropout``,
        ``learning_rate``, ``weight_decay``, ``max_epochs``, ``patience``, ``text_max_features``."""
        if estimator != "mlp":
            raise UnknownEstimator(
                f"torch trainer has no estimator {estimator!r}; it has mlp",
                estimator=estimator,
                available=("mlp",),
            )
        unknown = sorted(set(hyperparameters) - set(DEFAULTS))
        if unknown:
            raise ValidationError(
                f"unknown hyperparameters for mlp: {', '.join(unknown)}; "
                f"known: {', '.join(sorted(DEFAULTS))}",
                field="hyperparameters",
            )
        device, note = select_device(enable_gpu)
        params = {**DEFAULTS, **hyperparameters}
        return await asyncio.to_thread(
            self.fit_sync, dataset, params, validation_split, batch_size, seed, device, note, progress
        )

    def fit_sync(
        self,
        dataset: Dataset,
        params: dict[str, Any],
        validation_split: float,
        batch_size: int,
        seed: int,
        device: str,
        note: str | None = None,
        progress: ProgressCallback | None = None,
    ) -> FitResult:
        """The training loop (blocking); :meth:`fit` runs it off the event loop."""
        import torch

        schema = dataset.dataset_schema
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        if self.num_threads:
            torch.set_num_threads(self.num_threads)
        records = list(dataset.records)
        labels = [str(r[schema.target]) for r in records]
        classes = sorted(set(labels))
        index = {c: i for i, c in enumerate(classes)}
        order = np.random.default_rng(seed).permutation(len(records))
        held = max(1, round(len(records) * validation_split)) if len(records) > 4 else 0
        inner_val, inner_train = order[:held], order[held:]
        try:
            encoder = TabularEncoder.fit(
                [records[i] for i in inner_train],
                [(f.name, f.type) for f in schema.features],
                text_max_features=int(params["text_max_features"]),
            )
            x_all = torch.from_numpy(encoder.transform(records))
            y_all = torch.tensor([index[label] for label in labels], dtype=torch.long)
            architecture = {
                "input_size": encoder.width,
                "hidden_sizes": [int(h) for h in params["hidden_sizes"]],
                "dropout": float(params["dropout"]),
                "classes": len(classes),
            }
            network = _build_network(
                encoder.width, architecture["hidden_sizes"], len(classes), architecture["dropout"]
            ).to(device)
            optimiser = torch.optim.Adam(
                network.parameters(),
                lr=float(params["learning_rate"]),
                weight_decay=float(params["weight_decay"]),
            )
            loss_fn = torch.nn.CrossEntropyLoss()
            x_train = x_all[torch.from_numpy(inner_train)].to(device)
            y_train = y_all[torch.from_numpy(inner_train)].to(device)
            x_val = x_all[torch.from_numpy(inner_val)].to(device) if held else x_train
            y_val = y_all[torch.from_numpy(inner_val)].to(device) if held else y_train
            generator = torch.Generator().manual_seed(seed)
            best_loss, best_state, best_epoch, stale = float("inf"), None, 0, 0
            max_epochs, patience = int(params["max_epochs"]), int(params["patience"])
            started = time.perf_counter()
            epoch = 0
            for epoch in range(1, max_epochs + 1):
                network.train()
                permutation = torch.randperm(len(x_train), generator=generator).to(device)
                for start in range(0, len(x_train), batch_size):
                    batch = permutation[start : start + batch_size]
                    optimiser.zero_grad()
                    loss = loss_fn(network(x_train[batch]), y_train[batch])
                    loss.backward()
                    optimiser.step()
                network.eval()
                with torch.no_grad():
                    validation_loss = float(loss_fn(network(x_val), y_val))
                if validation_loss < best_loss - 1e-4:
                    best_loss, best_epoch, stale = validation_loss, epoch, 0
                    best_state = copy.deepcopy({k: v.detach().cpu() for k, v in network.state_dict().items()})
                else:
                    stale += 1
                if progress is not None:
                    progress(epoch, max_epochs)
                if stale >= patience:
                    break
            if progress is not None and epoch < max_epochs:
                progress(max_epochs, max_epochs)
            network = network.to("cpu")
            if best_state is not None:
                network.load_state_dict(best_state)
        except (ValueError, RuntimeError) as exc:
            raise TrainingFailed(f"mlp failed to train: {exc}", estimator="mlp") from exc
        device_name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
        return FitResult(
            model=TorchModel(network, encoder, classes, schema.features, architecture),
            device=f"cuda ({device_name})" if device == "cuda" else "cpu",
            notes=(note,) if note else (),
            parameters={
                **{k: params[k] for k in DEFAULTS},
                "epochs": epoch,
                "best_epoch": best_epoch,
                "best_validation_loss": best_loss,
                "seconds": time.perf_counter() - started,
            },
        )

    async def dumps(self, model: TrainedModel) -> bytes:
        """safetensors bytes: tensors plus JSON metadata (architecture, classes, features, encoder)."""
        if not isinstance(model, TorchModel):
            raise ValidationError("the torch trainer serialises only its own models", field="model")
        return await asyncio.to_thread(self._dumps_sync, model)

    @staticmethod
    def _dumps_sync(model: TorchModel) -> bytes:
        from safetensors.torch import save

        tensors = {k: v.detach().cpu().contiguous() for k, v in model.network.state_dict().items()}
        metadata = {
            "format": ARTIFACT_FORMAT,
            "architecture": json.dumps(model.architecture),
            "classes": json.dumps(list(model.classes)),
            "features": json.dumps([[f.name, f.type] for f in model.features]),
            "encoder": json.dumps(model.encoder.state),
        }
        data: bytes = save(tensors, metadata=metadata)
        return data

    async def loads(self, data: bytes) -> TrainedModel:
        """Parse the safetensors header and tensors; rebuild the network and encoder."""
        return await asyncio.to_thread(self._loads_sync, data)

    @staticmethod
    def _loads_sync(data: bytes) -> TrainedModel:
        from safetensors.torch import load

        try:
            (header_size,) = struct.unpack("<Q", data[:8])
            header = json.loads(data[8 : 8 + header_size])
            metadata = header.get("__metadata__") or {}
            if metadata.get("format") != ARTIFACT_FORMAT:
                raise ArtifactRefused(
                    f"not a {ARTIFACT_FORMAT} artifact (format {metadata.get('format')!r})",
                    reason="wrong_format",
                )
            architecture = json.loads(metadata["architecture"])
            classes = json.loads(metadata["classes"])
            features = [FeatureSpec(name=n, type=t) for n, t in json.loads(metadata["features"])]
            encoder = TabularEncoder(json.loads(metadata["encoder"]))
            tensors = load(data)
            network = _build_network(
                int(architecture["input_size"]),
                [int(h) for h in architecture["hidden_sizes"]],
                int(architecture["classes"]),
                float(architecture["dropout"]),
            )
            network.load_state_dict(tensors, strict=True)
        except ArtifactRefused:
            raise
        except Exception as exc:
            raise ArtifactRefused(
                f"the safetensors artifact could not be loaded: {exc}", reason="unloadable"
            ) from exc
        if encoder.width != int(architecture["input_size"]) or len(classes) != int(architecture["classes"]):
            raise ArtifactRefused("the artifact's encoder and network disagree", reason="inconsistent")
        return TorchModel(network, encoder, classes, features, architecture)
