"""W&B mode resolution (offline unless configured) and run folder writes."""

from __future__ import annotations

import json

import pytest

from qa_lightning.tracking.loggers import resolve_wandb_mode, wandb_credentials_present
from qa_lightning.tracking.run_folder import write_json_atomic


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE", "WANDB_MODE", "WANDB_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    return tmp_path


def test_auto_is_offline_without_credentials(clean_env):
    assert not wandb_credentials_present()
    assert resolve_wandb_mode("auto") == "offline"


def test_auto_is_online_with_an_api_key_or_netrc_entry(clean_env, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("auto") == "online"
    monkeypatch.delenv("WANDB_API_KEY")
    (clean_env / "netrc").write_text(
        "machine api.wandb.ai\n  login user\n  password " + "y" * 40 + "\n"
    )
    assert resolve_wandb_mode("auto") == "online"
    monkeypatch.setenv("WANDB_BASE_URL", "https://wandb.example.org")
    assert resolve_wandb_mode("auto") == "offline"  # the key is for another host


def test_explicit_modes_and_wandb_mode_win(clean_env, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "x" * 40)
    assert resolve_wandb_mode("offline") == "offline"
    monkeypatch.setenv("WANDB_MODE", "disabled")
    assert resolve_wandb_mode("auto") == "disabled"
    assert resolve_wandb_mode("online") == "online"


def test_json_written_atomically_and_readable(tmp_path):
    path = tmp_path / "run" / "metrics.json"
    write_json_atomic(path, {"f1": 1.5})
    write_json_atomic(path, {"f1": 2.5})
    assert json.loads(path.read_text()) == {"f1": 2.5}
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temporary left
    assert path.stat().st_mode & 0o044  # readable by group and others, like any output


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = tmp_path / "metrics.json"
    write_json_atomic(path, {"f1": 1.0})
    with pytest.raises(TypeError):
        write_json_atomic(path, {"f1": object()})
    assert json.loads(path.read_text()) == {"f1": 1.0}
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
