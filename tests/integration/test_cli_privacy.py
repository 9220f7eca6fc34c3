"""``motadata-ai privacy export`` writes one JSON document in the documented schema;
``motadata-ai maintenance`` prints the counts per tenant."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from motadata_ai.cli import main


def test_privacy_export_and_maintenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTADATA_PROFILE", "memory")
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MOTADATA_PRIVACY__RETENTION__AUDIT_DAYS", "30")
    out = tmp_path / "bob.json"
    assert main(["privacy", "export", "--tenant", "acme", "--user", "bob", "--output", str(out)]) == 0
    document = json.loads(out.read_text())
    assert document["schema"] == "motadata-ai.user-export/1"
    assert (document["tenant_id"], document["user_id"]) == ("acme", "bob")
    assert set(document["stores"]) >= {"documents", "memories", "usage", "audit", "predictions", "consents"}
    assert main(["maintenance", "--tenant", "acme"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line == {"tenant_id": "acme", "deleted": {"audit": 0}}
    assert main(["privacy", "erase", "--tenant", "bad tenant!", "--user", "bob"]) == 2  # a usage error


def test_maintenance_takes_the_global_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MOTADATA_PROFILE", "memory")
    monkeypatch.setenv("MOTADATA_DATA_DIR", str(tmp_path))
    assert main(["--tenant", "globex", "maintenance"]) == 0
    reports = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert [r["tenant_id"] for r in reports] == ["globex"]
