"""``import_skops_io``: skops trusts exactly the same types, without importing torch.

Each import runs in a fresh interpreter (``skops.io`` builds its trusted types once, at import).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from motadata_ai.adapters.sklearn.skops_import import (
    estimator_names_file,
    public_type_names_file,
    skipped_by_all_estimators,
)

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
from pathlib import Path
if sys.argv[1] == "pruned":
    from motadata_ai.adapters.sklearn.skops_import import import_skops_io
    import_skops_io()
elif sys.argv[1] == "cached":
    from motadata_ai.adapters.sklearn.skops_import import import_skops_io
    import_skops_io(Path(sys.argv[2]))
else:
    import skops.io
from skops.io import _trusted_types as tt
found = {
    "torch": "torch" in sys.modules,
    "public_modules": sorted(
        m for m in ("sklearn.mixture", "sklearn.naive_bayes", "sklearn.neural_network") if m in sys.modules
    ),
    "sklearn_tests": sorted(m for m in sys.modules if m.startswith("sklearn.") and ".tests" in m),
    "names": {k: sorted(v) for k, v in vars(tt).items() if k.endswith("_TYPE_NAMES")},
}
from sklearn.utils import all_estimators  # the full walk, after the imports were looked at
found["estimators"] = sorted(f"{c.__module__}.{c.__name__}" for _, c in all_estimators())
print(json.dumps(found))
"""


def probe(mode: str, *extra: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode, *extra], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_skops_trusts_the_same_types_without_importing_torch_or_the_test_packages() -> None:
    # torch is installed by the README command (the `ml` extra): the plain import pulls it in
    plain, pruned = probe("plain"), probe("pruned")
    assert plain["torch"] is True  # what the plain import costs where torch is installed
    assert pruned["torch"] is False and pruned["sklearn_tests"] == []
    assert pruned["names"] == plain["names"] and plain["names"]
    assert pruned["estimators"] == plain["estimators"] and len(plain["estimators"]) > 100


@pytest.fixture(scope="module")
def plain() -> dict[str, object]:
    """What a plain ``import skops.io`` trusts (and ``all_estimators`` finds)."""
    return probe("plain")


def test_cached_estimator_names_give_skops_the_same_types_without_the_scan(
    tmp_path: Path, plain: dict[str, object]
) -> None:
    first = probe("cached", str(tmp_path))  # scans, and keeps the names
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == sorted([estimator_names_file(tmp_path).name, public_type_names_file(tmp_path).name])
    again = probe("cached", str(tmp_path))  # answers all_estimators() and the ufunc names from the files
    assert first["names"] == plain["names"] and again["names"] == plain["names"]
    assert first["public_modules"] == ["sklearn.mixture", "sklearn.naive_bayes", "sklearn.neural_network"]
    assert again["public_modules"] == [] and again["torch"] is False
    assert again["estimators"] == plain["estimators"]  # a later all_estimators() is the real one


@pytest.mark.parametrize(
    "content",
    [
        '{"numpy:numpy.ufunc": ["numpy.load"]}',  # a function, not a ufunc: never trusted
        '{"numpy:numpy.ufunc": ["os.system"]}',
        "not json",
    ],
)
def test_a_tampered_public_type_names_file_is_not_trusted(
    tmp_path: Path, content: str, plain: dict[str, object]
) -> None:
    public_type_names_file(tmp_path).write_text(content)
    cached = probe("cached", str(tmp_path))
    assert cached["names"] == plain["names"]


@pytest.mark.parametrize(
    "content",
    [
        '[["Evil", "os", "system"]]',
        "not json",
    ],
)
def test_a_malformed_names_file_means_the_scan_runs_again(
    tmp_path: Path, content: str, plain: dict[str, object]
) -> None:
    estimator_names_file(tmp_path).write_text(content)
    cached = probe("cached", str(tmp_path))
    assert cached["names"] == plain["names"]
    assert cached["public_modules"] == ["sklearn.mixture", "sklearn.naive_bayes", "sklearn.neural_network"]


@pytest.mark.parametrize(
    ("name", "skipped"),
    [
        ("sklearn.externals", True),
        ("sklearn.externals.array_api_compat.torch", True),
        ("sklearn.linear_model.tests", True),
        ("sklearn._loss", True),
        ("sklearn.linear_model", False),
        ("sklearn.feature_extraction.text", False),
    ],
)
def test_the_walk_skips_exactly_what_all_estimators_skips(name: str, skipped: bool) -> None:
    from sklearn.utils.discovery import _MODULE_TO_IGNORE

    assert skipped_by_all_estimators(name, frozenset(_MODULE_TO_IGNORE)) is skipped
