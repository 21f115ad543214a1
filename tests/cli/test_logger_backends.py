"""logger=many|mlflow through train.py: each backend's own reader reads the run back.

TensorBoard through its EventAccumulator, MLflow through MlflowClient on the run's local
store, W&B through ``wandb leet inspect``, the CSV log as a file: every one holds the final
``val/f1`` of metrics.json and the run's hyper-parameters.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli.test_train_eval import run_entry, wandb_summary
from tests.docs.coverage import check_run_files_documented
from tests.tracking.test_wandb_outage import FAST, N_EVAL

pytest.importorskip("tensorboard")
pytest.importorskip("mlflow")


def _train(run_dir: Path, model_dir: Path, logger: str) -> dict:
    overrides = [f"model.name_or_path={model_dir}", *FAST, f"logger={logger}", "tags=[lg]"]
    run_entry("train.py", [*overrides, "save_best_model=false"], run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


def _csv_f1(run_dir: Path) -> list[float]:
    with open(run_dir / "csv" / "metrics.csv") as f:
        return [float(r["val/f1"]) for r in csv.DictReader(f) if r.get("val/f1")]


def test_many_writes_wandb_tensorboard_and_csv(tmp_path: Path, tiny_bert_dir) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    run_dir = tmp_path / "run"
    metrics = _train(run_dir, tiny_bert_dir, "many")
    f1 = metrics["f1"]

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tb_f1 = [e.value for e in events.Scalars("val/f1")]
    assert len(tb_f1) == 2 and tb_f1[-1] == pytest.approx(f1, abs=1e-4)  # epoch + final
    assert events.Scalars("val/total")[-1].value == N_EVAL  # (three steps leave F1 near 0)
    content = events.PluginTagToContent("hparams")["_hparams_/session_start_info"]
    hparams = HParamsPluginData.FromString(content).session_start_info.hparams
    # the record TensorBoard shows (the first) is the run's resolved config
    assert hparams["data/doc_stride"].number_value == 32
    assert hparams["model/name_or_path"].string_value == str(tiny_bert_dir)
    assert hparams["logger/tensorboard/name"].string_value == "tensorboard"

    summary = wandb_summary(run_dir)  # the offline W&B run
    assert summary["state"] == "finished" and "lg" in summary["tags"]
    assert summary["summary"]["val/f1"] == pytest.approx(f1, abs=1e-3)
    assert summary["summary"]["val/total"] == N_EVAL

    assert _csv_f1(run_dir)[-1] == pytest.approx(f1, abs=1e-4)
    check_run_files_documented(run_dir)  # tensorboard/ on a page


def test_mlflow_local_store_in_the_run_folder(tmp_path: Path, tiny_bert_dir) -> None:
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "run"
    metrics = _train(run_dir, tiny_bert_dir, "mlflow")
    store = run_dir / "mlflow"
    client = MlflowClient(tracking_uri=f"sqlite:///{store / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("qa-lightning").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.info.artifact_uri.startswith((store / "artifacts").as_uri())
    history = client.get_metric_history(run.info.run_id, "val/f1")
    assert len(history) == 2
    last = max(history, key=lambda m: (m.step, m.timestamp))
    assert last.value == pytest.approx(metrics["f1"], abs=1e-4)
    assert run.data.metrics["val/total"] == N_EVAL
    params = run.data.params
    assert params["data/doc_stride"] == "32"
    assert params["model/name_or_path"] == str(tiny_bert_dir)
    # named after the job (its overrides) and tagged like its W&B run
    assert run.info.run_name and "logger=mlflow" not in run.info.run_name
    assert "lg" in run.data.tags["tags"] and "data:synthetic" in run.data.tags["tags"]
    assert _csv_f1(run_dir)[-1] == pytest.approx(metrics["f1"], abs=1e-4)
    check_run_files_documented(run_dir)  # mlflow/ on a page


@pytest.mark.slow  # ~12 s
def test_throughput_preset_logs_lightnings_windowed_rates(tmp_path: Path, tiny_bert_dir) -> None:
    """callbacks=throughput adds Lightning's ThroughputMonitor with our batch functions:
    features/s and non-padding tokens/s reach the log (tokens/s above features/s, as every
    window holds many tokens), beside the run's own cumulative train_features_per_second."""
    run_dir = tmp_path / "run"
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *FAST,
        "trainer.limit_train_batches=6",
        "trainer.log_every_n_steps=1",
        "callbacks=throughput",
        "callbacks.extra.throughput.window_size=2",
        "logger=csv",
        "save_best_model=false",
    ]
    run_entry("train.py", overrides, run_dir)
    with open(run_dir / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    samples = [
        float(r["train/device/samples_per_sec"])
        for r in rows
        if r.get("train/device/samples_per_sec")
    ]
    tokens = [
        float(r["train/device/items_per_sec"]) for r in rows if r.get("train/device/items_per_sec")
    ]
    assert samples and len(samples) == len(tokens)
    assert all(t > s > 0 for s, t in zip(samples, tokens, strict=True))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["train_features_per_second"] > 0
