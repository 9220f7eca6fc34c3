"""The import-linter contracts hold on the tree, and a wrong arrow breaks them."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), str(workdir / "pyproject.toml"), "--no-cache"],
        cwd=workdir,
        env={"PYTHONPATH": str(workdir), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=240,
    )


def test_layering_contracts_hold_on_the_tree() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_domain_importing_an_adapter_breaks_the_build(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "motadata_ai", tmp_path / "motadata_ai", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    wrong = tmp_path / "motadata_ai" / "domain" / "wrong_arrow.py"
    wrong.write_text('"""A deliberate layering violation."""\nfrom motadata_ai.adapters.memory import llm\n')
    result = _lint(tmp_path)
    assert result.returncode != 0
    assert "motadata_ai.domain.wrong_arrow -> motadata_ai.adapters.memory.llm" in result.stdout
