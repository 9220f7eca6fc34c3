"""``import_skops_io``: skops trusts exactly the same types, without importing torch.

Each import runs in a fresh interpreter (``skops.io`` builds its trusted types once, at import).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from motadata_ai.adapters.sklearn.skops_import import skipped_by_all_estimators

pytestmark = pytest.mark.slow

PROBE = """
import json, sys
if sys.argv[1] == "pruned":
    from motadata_ai.adapters.sklearn.skops_import import import_skops_io
    import_skops_io()
else:
    import skops.io
from skops.io import _trusted_types as tt
found = {
    "torch": "torch" in sys.modules,
    "sklearn_tests": sorted(m for m in sys.modules if m.startswith("sklearn.") and ".tests" in m),
    "names": {k: sorted(v) for k, v in vars(tt).items() if k.endswith("_TYPE_NAMES")},
}
from sklearn.utils import all_estimators  # the full walk, after the imports were looked at
found["estimators"] = sorted(f"{c.__module__}.{c.__name__}" for _, c in all_estimators())
print(json.dumps(found))
"""


def probe(mode: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, timeout=300, check=False
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
