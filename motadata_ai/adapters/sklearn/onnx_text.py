"""Text features of an ONNX twin: TF-IDF computed in NumPy, the rest of the pipeline in ONNX.

skl2onnx's TF-IDF conversion lowercases through a C++ locale that a machine may lack
(``StringNormalizer`` fails to load without ``en_US.UTF-8``) and tokenises with another regular
expression engine than Python's. So a twin takes each text column as a float64 input of the
TF-IDF vector already computed: :class:`TextColumn` tokenises, counts, weighs and normalises as
the fitted ``TfidfVectorizer`` does, with Python's ``re``, from the vocabulary and idf weights kept
in the twin's metadata, and :func:`text_as_input` gives skl2onnx a copy of the pipeline whose text
transformers pass their column through. Only vectorizers with the settings :class:`TextColumn`
reproduces are converted (:func:`reproducible`); the trainer's default is one.
"""

from __future__ import annotations

import copy
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["TextColumn", "inputs_whole", "reproducible", "text_as_input"]

TOKEN_PATTERN = r"(?u)\b\w\w+\b"
"""scikit-learn's default token pattern, the one :class:`TextColumn` tokenises with."""
_REPRODUCED = {
    "analyzer": "word",
    "lowercase": True,
    "preprocessor": None,
    "tokenizer": None,
    "token_pattern": TOKEN_PATTERN,
    "ngram_range": (1, 1),
    "stop_words": None,
    "strip_accents": None,
    "binary": False,
    "norm": "l2",
    "use_idf": True,
    "sublinear_tf": False,
    "input": "content",
}


class TextColumn:
    """One text column's fitted TF-IDF: ``terms`` in column order and their idf weights."""

    def __init__(self, terms: Sequence[str], idf: Sequence[float]) -> None:
        if len(terms) != len(idf):
            raise ValueError(f"{len(terms)} terms but {len(idf)} idf weights")
        self.terms = list(terms)
        self.idf = np.asarray(idf, dtype=np.float64)
        self._index = {term: i for i, term in enumerate(self.terms)}
        self._token = re.compile(TOKEN_PATTERN)

    @classmethod
    def of(cls, vectorizer: Any) -> TextColumn:
        """The fitted vectorizer's vocabulary and weights."""
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        return cls(terms, vectorizer.idf_.tolist())

    def state(self) -> dict[str, Any]:
        """What :meth:`from_state` reads back (JSON: floats keep every bit)."""
        return {"terms": self.terms, "idf": self.idf.tolist()}

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> TextColumn:
        """A column from :meth:`state`'s dict."""
        return cls(state["terms"], state["idf"])

    def size_bytes(self) -> int:
        """The memory the column holds: its terms, their index and the idf weights."""
        terms = sum(sys.getsizeof(term) for term in self.terms)
        return terms + sys.getsizeof(self.terms) + sys.getsizeof(self._index) + self.idf.nbytes

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """The ``(len(texts), len(terms))`` TF-IDF rows, l2-normalised like scikit-learn's."""
        rows = np.zeros((len(texts), len(self.terms)), dtype=np.float64)
        for row, text in zip(rows, texts, strict=True):
            for token in self._token.findall(text.lower()):
                index = self._index.get(token)
                if index is not None:
                    row[index] += 1.0
        rows *= self.idf
        norms = np.sqrt(np.einsum("ij,ij->i", rows, rows))
        norms[norms == 0.0] = 1.0
        rows /= norms[:, None]
        return rows


def reproducible(vectorizer: Any) -> bool:
    """Whether ``vectorizer`` is a fitted float64 ``TfidfVectorizer`` that :class:`TextColumn` reproduces."""
    if type(vectorizer).__name__ != "TfidfVectorizer" or not hasattr(vectorizer, "idf_"):
        return False
    params = vectorizer.get_params()
    settings = {key: params.get(key) for key in _REPRODUCED}
    settings["ngram_range"] = tuple(settings["ngram_range"] or ())
    return settings == _REPRODUCED and np.dtype(params.get("dtype")) == np.float64


def text_as_input(pipeline: Any) -> tuple[Any, dict[str, TextColumn]]:
    """A copy of the fitted pipeline whose text transformers pass their (TF-IDF) column through,
    and each text column's :class:`TextColumn`; the original pipeline is left as it was."""
    from sklearn.pipeline import Pipeline

    preprocess = copy.copy(pipeline.named_steps["preprocess"])
    columns: dict[str, TextColumn] = {}
    transformers = []
    for name, transformer, column in preprocess.transformers_:
        if name.startswith("text:"):
            columns[column] = TextColumn.of(transformer)
            transformer = "passthrough"
        transformers.append((name, transformer, column))
    preprocess.transformers_ = transformers
    return Pipeline([("preprocess", preprocess), ("estimator", pipeline.named_steps["estimator"])]), columns


def inputs_whole(graph: Any, columns: Sequence[str]) -> None:
    """skl2onnx passes a text column through as its first element (``ArrayFeatureExtractor`` of
    index 0, as for a one-wide column): take the whole TF-IDF input instead. Raises
    ``ValueError`` unless each text column has exactly that one node."""
    from onnx import helper

    wanted = set(columns)
    for position, node in enumerate(list(graph.node)):
        if node.op_type == "ArrayFeatureExtractor" and node.input[0] in wanted:
            wanted.discard(node.input[0])
            graph.node.remove(node)
            graph.node.insert(position, helper.make_node("Identity", [node.input[0]], [node.output[0]]))
    if wanted:
        raise ValueError(f"no pass-through of the text columns {sorted(wanted)}")
