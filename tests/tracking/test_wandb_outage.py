"""W&B set online but unusable (no server, a refused key, offline W&B broken too).

The run must warn once, go on with W&B offline (or without it) and leave complete metrics,
predictions, CSV log and an offline W&B run that ``wandb sync`` can upload later.
"""

from __future__ import annotations

import base64
import csv
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from qa_lightning.errors import ConfigError
from qa_lightning.tracking.loggers import FallbackWandbLogger, build_loggers, finish_wandb
from tests.cli.test_train_eval import ROOT, SMALL_DATA, wandb_summary

FAKE_KEY = "0123456789abcdef0123456789abcdef01234567"  # 40 hex: well formed, never valid
N_EVAL = 8
WARNING = "W&B is unreachable or has no valid API key"
# SMALL_DATA cut down: three training steps and one 8-example validation are enough here
FAST = [
    *(o for o in SMALL_DATA if not o.startswith("data.synthetic.n_")),
    "data.synthetic.n_train=24",
    f"data.synthetic.n_eval={N_EVAL}",
    "trainer=cpu",
    "trainer.precision=32-true",  # fp32: the checks compare floats exactly
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=3",
    "trainer.num_sanity_val_steps=0",
]


def _train_online(tmp: Path, model_dir: Path, env: dict[str, str], *extra: str):
    """train.py with W&B forced online and no W&B state from this machine's user."""
    run_dir = tmp / "run"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WANDB_")},
        "HF_HUB_OFFLINE": "1",
        "NETRC": str(tmp / "no-netrc"),  # no `wandb login` key of whoever runs the tests
        "WANDB_CONFIG_DIR": str(tmp / "wandb-config"),
        **env,
    }
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        f"model.name_or_path={model_dir}",
        *FAST,
        "logger=wandb",
        "logger.wandb.mode=online",
        "logger.wandb.init_timeout=3",
        *extra,
        f"hydra.run.dir={run_dir}",
        f"paths.cache_dir={tmp.parent / 'cache'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-6000:]
    return run_dir, output


def _assert_complete_offline_run(run_dir: Path, output: str) -> None:
    assert "Traceback" not in output
    warnings = [line for line in output.splitlines() if WARNING in line]
    assert len(warnings) == 1, warnings
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    assert f"wandb sync {offline_run}" in warnings[0]  # the command that uploads it later

    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["total"] == N_EVAL
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert len(predictions) == N_EVAL
    with open(run_dir / "csv" / "metrics.csv") as f:
        f1_values = [float(r["val/f1"]) for r in csv.DictReader(f) if r.get("val/f1")]
    assert f1_values and f1_values[-1] == pytest.approx(metrics["f1"], abs=1e-4)

    summary = wandb_summary(run_dir)
    assert summary["state"] == "finished" and summary["exit_code"] == 0
    assert summary["summary"]["val/f1"] == pytest.approx(metrics["f1"], abs=1e-3)
    assert "doc_stride" in json.dumps(summary["config"])  # hyperparameters logged too


def _log_time(output: str, text: str) -> datetime:
    line = next(line for line in output.splitlines() if text in line)
    return datetime.strptime(re.match(r"\[([^\]]+)\]", line).group(1), "%Y-%m-%d %H:%M:%S,%f")


@pytest.fixture
def refusing_server():
    """A W&B server stand-in that answers 401 to every request and records what it got."""

    class Refuse(BaseHTTPRequestHandler):
        def _refuse(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            server.requests.append((self.path, self.headers.get("Authorization", "")))
            body = b'{"errors": [{"message": "invalid API key"}]}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _refuse

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow  # ~28 s; the refused key falls back through the same path
def test_unreachable_server_falls_back_to_offline(tmp_path: Path, tiny_bert_dir) -> None:
    started = time.monotonic()
    run_dir, output = _train_online(
        tmp_path,
        tiny_bert_dir,
        {"WANDB_API_KEY": FAKE_KEY, "WANDB_BASE_URL": f"http://127.0.0.1:{_closed_port()}"},
    )
    _assert_complete_offline_run(run_dir, output)
    # logger.wandb.init_timeout=3 is what bounds the wait: W&B alone retries for 90 s
    waited = _log_time(output, WARNING) - _log_time(output, "W&B logging online")
    assert waited.total_seconds() < 45, waited
    assert time.monotonic() - started < 240


def test_refused_key_falls_back_to_offline(tmp_path: Path, tiny_bert_dir, refusing_server):
    port = refusing_server.server_address[1]
    run_dir, output = _train_online(
        tmp_path,
        tiny_bert_dir,
        {"WANDB_API_KEY": FAKE_KEY, "WANDB_BASE_URL": f"http://127.0.0.1:{port}"},
    )
    _assert_complete_offline_run(run_dir, output)
    # the key really was presented (and refused), and went nowhere but the server
    presented = [
        base64.b64decode(auth.split()[1]).decode()
        for path, auth in refusing_server.requests
        if path == "/graphql" and auth.startswith("Basic ")
    ]
    assert any(FAKE_KEY in p for p in presented), refusing_server.requests
    for path in run_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            assert FAKE_KEY.encode() not in path.read_bytes(), path


def test_no_wandb_at_all_still_logs_csv(monkeypatch, tmp_path: Path, caplog) -> None:
    """Online and offline init both failing leave a no-op W&B run, one warning, no crash."""
    import wandb

    real_init = wandb.init
    modes: list[str] = []

    def init(**kwargs):
        modes.append(kwargs["mode"])
        if kwargs["mode"] != "disabled":
            raise wandb.errors.CommError(f"{kwargs['mode']} init failed")
        return real_init(**kwargs)

    monkeypatch.setattr(wandb, "init", init)
    csv_logger, wandb_logger = build_loggers(
        {"csv": {"name": "csv"}, "wandb": {"mode": "online"}}, output_dir=str(tmp_path)
    )
    with caplog.at_level(logging.WARNING, logger="qa_lightning"):
        for logger in (csv_logger, wandb_logger):
            logger.log_hyperparams({"lr": 0.1})
            logger.log_metrics({"val/f1": 12.5}, step=0)
            logger.save()
    assert modes == ["online", "offline", "disabled"]
    assert wandb_logger.experiment.disabled
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "without W&B" in warnings[0], warnings
    assert "online init failed" in warnings[0] and "offline init failed" in warnings[0]
    assert finish_wandb([csv_logger, wandb_logger]) is None  # no run folder to point at
    assert wandb.run is None
    with open(tmp_path / "csv" / "metrics.csv") as f:
        assert [float(r["val/f1"]) for r in csv.DictReader(f)] == [12.5]


def test_only_online_mode_falls_back(monkeypatch, tmp_path: Path) -> None:
    """An offline run that cannot start is an error to see, not something to hide."""
    import wandb

    def init(**kwargs):
        raise wandb.errors.UsageError("offline init failed")

    monkeypatch.setattr(wandb, "init", init)
    logger = FallbackWandbLogger(save_dir=str(tmp_path), mode="offline")
    with pytest.raises(wandb.errors.UsageError):
        logger.log_hyperparams({"lr": 0.1})


def test_init_timeout_reaches_wandb_and_is_checked(tmp_path: Path) -> None:
    (wandb_logger,) = build_loggers(
        {"wandb": {"mode": "online", "init_timeout": 7}}, output_dir=str(tmp_path)
    )
    assert wandb_logger._wandb_init["settings"]["init_timeout"] == 7.0
    for bad in (0, -5):
        with pytest.raises(ConfigError, match="logger.wandb.init_timeout"):
            build_loggers({"wandb": {"mode": "online", "init_timeout": bad}}, output_dir="x")
