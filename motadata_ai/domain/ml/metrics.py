"""Classification metrics in pure Python, matching scikit-learn's definitions.

accuracy; macro precision, recall and F1 over the labels seen in truth or prediction (a label with
no predictions counts 0, like ``zero_division=0``); ROC-AUC for binary targets (rank statistic,
ties averaged), with the second of the sorted classes as the positive one.
"""

from __future__ import annotations

from collections.abc import Sequence


def argmax_labels(probabilities: Sequence[Sequence[float]], classes: Sequence[str]) -> list[str]:
    """The most probable class of each row (the first on ties, like numpy's argmax)."""
    out = []
    for row in probabilities:
        best = max(range(len(row)), key=lambda i: (row[i], -i))
        out.append(classes[best])
    return out


def roc_auc(truth: Sequence[bool], scores: Sequence[float]) -> float | None:
    """Area under the ROC curve, or ``None`` when only one class is present."""
    positives = sum(1 for t in truth if t)
    negatives = len(truth) - positives
    if positives == 0 or negatives == 0:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        average = (i + j) / 2 + 1
        for k in range(i, j + 1):
            ranks[order[k]] = average
        i = j + 1
    rank_sum = sum(r for r, t in zip(ranks, truth, strict=True) if t)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def classification_metrics(
    truth: Sequence[str], probabilities: Sequence[Sequence[float]], classes: Sequence[str]
) -> dict[str, float]:
    """accuracy, precision/recall/F1 (macro), ``roc_auc`` when binary, the row count, and how many
    distinct classes the model predicted (``1`` for several true classes: it only predicts the
    majority class)."""
    predicted = argmax_labels(probabilities, classes)
    n = len(truth)
    labels = sorted(set(truth) | set(predicted))
    precisions, recalls, f1s = [], [], []
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted, strict=True) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted, strict=True) if t == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(f1)
    metrics = {
        "accuracy": sum(1 for t, p in zip(truth, predicted, strict=True) if t == p) / n if n else 0.0,
        "precision_macro": sum(precisions) / len(labels) if labels else 0.0,
        "recall_macro": sum(recalls) / len(labels) if labels else 0.0,
        "f1_macro": sum(f1s) / len(labels) if labels else 0.0,
        "validation_rows": float(n),
        "predicted_classes": float(len(set(predicted))),
    }
    if len(classes) == 2:
        positive = classes[1]
        auc = roc_auc([t == positive for t in truth], [row[1] for row in probabilities])
        if auc is not None:
            metrics["roc_auc"] = auc
    return metrics
