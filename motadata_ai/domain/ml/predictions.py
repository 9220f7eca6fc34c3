"""Serving predictions: one record (through the prediction cache) or many in chunks, sampled to a log.

CPU-heavy prediction runs off the event loop; every served prediction and error is counted for
the system's health report.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from motadata_ai.domain.ml.dataset import normalise_record
from motadata_ai.domain.ml.loading import ModelLoader
from motadata_ai.domain.ml.metrics import argmax_labels
from motadata_ai.domain.ml.versions import VersionResolver
from motadata_ai.domain.values import keys
from motadata_ai.domain.values.errors import MotadataError, ValidationError
from motadata_ai.domain.values.ml import ModelVersion, Prediction, PredictionLogEntry
from motadata_ai.ports.cache import CachePort
from motadata_ai.ports.ml import PredictionLogPort

logger = logging.getLogger(__name__)


class Predictor:
    """Predicts with one tenant's registered models and keeps the serving counters."""

    def __init__(
        self,
        *,
        tenant_id: str,
        versions: VersionResolver,
        loader: ModelLoader,
        cache: CachePort | None,
        cache_predictions: bool,
        cache_ttl: float | None,
        prediction_log: PredictionLogPort | None,
        sample_rate: float,
        clock: Callable[[], datetime],
        rng: random.Random,
    ) -> None:
        self.tenant_id = tenant_id
        self.versions = versions
        self.loader = loader
        self.cache = cache
        self.cache_predictions = cache_predictions and cache is not None
        self.cache_ttl = cache_ttl
        self.log = prediction_log
        self.sample_rate = sample_rate
        self._now = clock
        self._rng = rng
        self.predictions = 0
        self.cache_hits = 0
        self.errors = 0

    def _cache_key(self, version: ModelVersion, record: Mapping[str, Any]) -> str:
        body = json.dumps(record, sort_keys=True, default=str).encode()
        return keys.tenant_key(
            self.tenant_id,
            keys.ML,
            "pred",
            version.model_name,
            version.version,
            version.artifact_sha256[:16],
            hashlib.sha256(body).hexdigest(),
        )

    @staticmethod
    def _prediction(
        version: ModelVersion, probabilities: Sequence[float], classes: Sequence[str]
    ) -> Prediction:
        label = argmax_labels([probabilities], classes)[0]
        return Prediction(
            model_name=version.model_name,
            version=version.version,
            label=label,
            probabilities={c: float(p) for c, p in zip(classes, probabilities, strict=True)},
        )

    async def predict(
        self,
        model_name: str,
        record: Mapping[str, Any],
        *,
        version: int | None,
        alias: str,
        user_id: str | None = None,
    ) -> Prediction:
        """Predict one record (see :meth:`MLSystem.predict`)."""
        try:
            resolved = await self.versions.get(model_name, version=version, alias=alias)
            normalised = normalise_record(record, resolved.signature)
            key = self._cache_key(resolved, normalised) if self.cache_predictions else None
            if key is not None and self.cache is not None:
                hit = await self.cache.get(key)
                if hit is not None:
                    self.cache_hits += 1
                    self.predictions += 1
                    return Prediction.model_validate_json(hit).model_copy(update={"cached": True})
            entry = await self.loader.get(resolved)
            probabilities = await asyncio.to_thread(entry.model.predict_proba, [normalised])
            prediction = self._prediction(resolved, probabilities[0], entry.model.classes)
            if key is not None and self.cache is not None:
                await self.cache.set(key, prediction.model_dump_json().encode(), ttl=self.cache_ttl)
        except Exception:
            self.errors += 1
            raise
        self.predictions += 1
        await self._sample([(normalised, prediction.label)], resolved, user_id=user_id)
        return prediction

    async def predict_batch(
        self,
        model_name: str,
        records: Sequence[Mapping[str, Any]],
        *,
        version: int | None,
        alias: str,
        chunk_size: int,
        user_id: str | None = None,
    ) -> list[Prediction]:
        """Predict many records in chunks (see :meth:`MLSystem.predict_batch`)."""
        if chunk_size < 1:
            raise ValidationError("chunk_size must be at least 1", field="chunk_size")
        try:
            resolved = await self.versions.get(model_name, version=version, alias=alias)
            normalised = [normalise_record(r, resolved.signature, row=i) for i, r in enumerate(records)]
            entry = await self.loader.get(resolved)
            classes = entry.model.classes
            predictions: list[Prediction] = []
            for start in range(0, len(normalised), chunk_size):
                chunk = normalised[start : start + chunk_size]
                probabilities = await asyncio.to_thread(entry.model.predict_proba, chunk)
                predictions.extend(self._prediction(resolved, p, classes) for p in probabilities)
        except Exception:
            self.errors += 1
            raise
        self.predictions += len(predictions)
        pairs = [(r, p.label) for r, p in zip(normalised, predictions, strict=True)]
        await self._sample(pairs, resolved, user_id=user_id)
        return predictions

    async def _sample(
        self,
        pairs: Sequence[tuple[dict[str, Any], str]],
        version: ModelVersion,
        *,
        user_id: str | None = None,
    ) -> None:
        if self.log is None or self.sample_rate <= 0:
            return
        now = self._now()
        entries = [
            PredictionLogEntry(
                tenant_id=self.tenant_id,
                model_name=version.model_name,
                version=version.version,
                inputs=inputs,
                label=label,
                user_id=user_id,
                created_at=now,
            )
            for inputs, label in pairs
            if self._rng.random() < self.sample_rate
        ]
        if not entries:
            return
        try:
            await self.log.append(entries)
        except MotadataError:  # losing a sample must not fail a prediction that succeeded
            logger.warning("could not write %d prediction log entries", len(entries), exc_info=True)
