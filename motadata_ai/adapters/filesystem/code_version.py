"""The code version recorded on training runs: package version plus the git commit when known."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path


def git_sha(start: Path | None = None) -> str | None:
    """The commit checked out in the repository holding ``start`` (read from ``.git``, no subprocess)."""
    here = (start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        git = folder / ".git"
        if git.is_file():  # a worktree: "gitdir: <path>"
            text = git.read_text().strip()
            if not text.startswith("gitdir:"):
                return None
            git = (folder / text.split(":", 1)[1].strip()).resolve()
        if not git.is_dir():
            continue
        try:
            head = (git / "HEAD").read_text().strip()
            if not head.startswith("ref:"):
                return head[:40]
            ref = head.split(":", 1)[1].strip()
            for base in (git, _common_dir(git)):
                ref_file = base / ref
                if ref_file.is_file():
                    return ref_file.read_text().strip()[:40]
                packed = base / "packed-refs"
                if packed.is_file():
                    for line in packed.read_text().splitlines():
                        if line.endswith(" " + ref):
                            return line.split(" ", 1)[0][:40]
        except OSError:
            return None
        return None
    return None


def _common_dir(git: Path) -> Path:
    common = git / "commondir"
    if common.is_file():
        return (git / common.read_text().strip()).resolve()
    return git


def detect_code_version() -> str:
    """``motadata-ai-sdk==<version>`` and ``+g<sha>`` when running from a git checkout."""
    try:
        version = metadata.version("motadata-ai-sdk")
    except metadata.PackageNotFoundError:
        version = "unknown"
    sha = git_sha()
    return f"motadata-ai-sdk=={version}" + (f"+g{sha[:12]}" if sha else "")
