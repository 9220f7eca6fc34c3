"""TabularEncoder: the trainer's preprocessing (scaling, one-hot, TF-IDF) densified, as plain data.

It computes what the scikit-learn pipeline computes — median imputation then standard scaling
for numeric features, one-hot for categorical levels seen in training, TF-IDF (smooth idf, l2
norm, scikit-learn's token pattern) per text feature — and its whole fitted state is JSON, so a
PyTorch artifact needs no pickle.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tokens(text: str) -> list[str]:
    """Lower-cased words of two or more characters (scikit-learn's default pattern)."""
    return _TOKEN.findall(text.lower())


class TabularEncoder:
    """Fit on normalised records, transform to a dense float32 matrix; state round-trips as JSON."""

    def __init__(self, state: dict[str, Any]) -> None:
        self.state = state
        self._lookups: dict[str, dict[str, int]] = {}
        for column in state["columns"]:
            if column["type"] == "categorical":
                self._lookups[column["name"]] = {c: i for i, c in enumerate(column["categories"])}
            elif column["type"] == "text":
                self._lookups[column["name"]] = {t: i for i, t in enumerate(column["vocabulary"])}
        self.width = sum(self._column_width(c) for c in state["columns"])

    @staticmethod
    def _column_width(column: dict[str, Any]) -> int:
        if column["type"] == "numeric":
            return 1
        if column["type"] == "categorical":
            return len(column["categories"])
        return len(column["vocabulary"])

    @classmethod
    def fit(
        cls,
        records: Sequence[dict[str, Any]],
        features: Sequence[tuple[str, str]],
        *,
        text_max_features: int = 2000,
    ) -> TabularEncoder:
        """Learn medians, means and scales, category levels, vocabularies and idf weights."""
        columns: list[dict[str, Any]] = []
        n = len(records)
        for name, kind in features:
            if kind == "numeric":
                values = np.array([r[name] for r in records if r[name] is not None], dtype=float)
                median = float(np.median(values)) if values.size else 0.0
                filled = np.array([median if r[name] is None else r[name] for r in records], dtype=float)
                mean = float(filled.mean()) if n else 0.0
                std = float(filled.std()) if n else 1.0
                columns.append(
                    {"name": name, "type": kind, "median": median, "mean": mean, "scale": std or 1.0}
                )
            elif kind == "categorical":
                categories = sorted({str(r[name]) for r in records})
                columns.append({"name": name, "type": kind, "categories": categories})
            else:
                document_frequency: Counter[str] = Counter()
                term_frequency: Counter[str] = Counter()
                for record in records:
                    words = tokens(str(record[name] or ""))
                    term_frequency.update(words)
                    document_frequency.update(set(words))
                ranked = sorted(term_frequency, key=lambda t: (-term_frequency[t], t))[:text_max_features]
                vocabulary = sorted(ranked)
                idf = [math.log((1 + n) / (1 + document_frequency[t])) + 1.0 for t in vocabulary]
                columns.append({"name": name, "type": kind, "vocabulary": vocabulary, "idf": idf})
        return cls({"version": 1, "columns": columns})

    def transform(self, records: Sequence[dict[str, Any]]) -> np.ndarray:
        """The dense feature matrix (rows × :attr:`width`, float32)."""
        out = np.zeros((len(records), self.width), dtype=np.float32)
        offset = 0
        for column in self.state["columns"]:
            name = column["name"]
            if column["type"] == "numeric":
                for i, record in enumerate(records):
                    value = record[name]
                    value = column["median"] if value is None else value
                    out[i, offset] = (value - column["mean"]) / column["scale"]
            elif column["type"] == "categorical":
                lookup = self._lookups[name]
                for i, record in enumerate(records):
                    index = lookup.get(str(record[name]))
                    if index is not None:
                        out[i, offset + index] = 1.0
            else:
                lookup = self._lookups[name]
                idf = column["idf"]
                for i, record in enumerate(records):
                    counts = Counter(t for t in tokens(str(record[name] or "")) if t in lookup)
                    weights = {lookup[t]: c * idf[lookup[t]] for t, c in counts.items()}
                    norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0
                    for index, weight in weights.items():
                        out[i, offset + index] = weight / norm
            offset += self._column_width(column)
        return out

    def size_bytes(self) -> int:
        """Approximate memory of the vocabularies, levels and weights."""
        total = 0
        for column in self.state["columns"]:
            for key in ("categories", "vocabulary"):
                total += sum(49 + len(s) for s in column.get(key, ())) * 2  # list entry + lookup entry
            total += 8 * len(column.get("idf", ()))
        return total + 64 * len(self.state["columns"])
