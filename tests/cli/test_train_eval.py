"""End to end through the real entry points (python train.py / eval.py), offline."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from qa_lightning.cli.precision import auto_precision
from tests.docs.coverage import check_run_files_documented

ROOT = Path(__file__).resolve().parents[2]
SMALL_DATA = [
    "data=synthetic",
    "data.synthetic.n_train=120",
    "data.synthetic.n_eval=40",
    "data.max_length=96",
    "data.doc_stride=32",
    "data.batch_size=16",
    "optimizer.lr=5e-4",
]


def run_entry(
    script: str,
    overrides: list[str],
    tmp: Path,
    *,
    check: bool = True,
    env: dict[str, str] | None = None,
    python_args: list[str] | None = None,
) -> subprocess.CompletedProcess:
    """``script`` with ``overrides`` into the run folder ``tmp`` (``env``: more variables;
    ``python_args``: run this instead of the script, e.g. ``-c <code>`` that runs it)."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "WANDB_SILENT": "true",
        **(env or {}),
    }
    cmd = [
        sys.executable,
        *(python_args or [str(ROOT / script)]),
        *overrides,
        f"hydra.run.dir={tmp}",
        f"paths.cache_dir={tmp.parent / 'cache'}",
    ]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{script} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
        )
    return proc


def _inspect(run_dir: Path, *flags: str) -> str:
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")
    wandb_bin = Path(sys.executable).with_name("wandb")
    cmd = [str(wandb_bin), "leet", "inspect", *flags, str(offline_run)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def wandb_summary(run_dir: Path) -> dict:
    """What `wandb leet inspect --summary` reads back from an offline run."""
    return json.loads(_inspect(run_dir, "--summary", "--json"))


def wandb_run_record(run_dir: Path) -> dict:
    """The run record (name, group, tags ...) of an offline run's transaction log."""
    records = (
        json.loads(line) for line in _inspect(run_dir, "--json").splitlines() if line.strip()
    )
    return next(r["run"] for r in records if r.get("type") == "run")


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, tiny_bert_dir) -> Path:
    run_dir = tmp_path_factory.mktemp("train") / "run"
    run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "trainer=cpu",
            "trainer.precision=32-true",  # fp32: the checks compare floats exactly
            "trainer.max_epochs=2",
            "logger=wandb",
            "tags=[e2e]",
        ],
        run_dir,
    )
    return run_dir


def test_train_writes_metrics_predictions_and_logs(trained_run: Path) -> None:
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert metrics["total"] == 40
    assert 0.0 <= metrics["exact"] <= metrics["f1"] <= 100.0
    assert metrics["train_features"] > 0 and metrics["train_features_per_second"] > 0
    predictions = json.loads((trained_run / "predictions.json").read_text())
    assert sorted(predictions) == sorted(f"syn-validation-{i}" for i in range(40))
    nbest = json.loads((trained_run / "nbest_predictions.json").read_text())
    assert all(nbest[k][0]["text"] == predictions[k] for k in predictions)
    assert not (trained_run / "null_odds.json").exists()  # v1 has no null odds
    assert (trained_run / "best_model" / "config.json").exists()
    config = (trained_run / "config.yaml").read_text()
    assert "${" not in config  # resolved as the run used it

    with open(trained_run / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    f1_values = [float(r["val/f1"]) for r in rows if r.get("val/f1")]
    assert len(f1_values) >= 3  # two epochs + the final validation of the best checkpoint
    assert f1_values[-1] == pytest.approx(metrics["f1"], abs=1e-4)


def test_wandb_offline_run_reads_back(trained_run: Path) -> None:
    summary = wandb_summary(trained_run)
    assert summary["state"] == "finished" and summary["exit_code"] == 0
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert summary["summary"]["val/f1"] == pytest.approx(metrics["f1"], abs=1e-3)
    assert summary["summary"]["val/exact"] == pytest.approx(metrics["exact"], abs=1e-3)
    assert "e2e" in summary["tags"]
    text = json.dumps(summary["config"])
    assert "doc_stride" in text and "optimizer" in text and "${" not in text  # resolved config


def test_the_run_folders_files_are_named_on_a_page(trained_run: Path) -> None:
    check_run_files_documented(trained_run)  # logger=wandb, v1


def test_saved_model_answers_through_pipeline(trained_run: Path) -> None:
    from transformers import pipeline

    import qa_lightning.inference  # noqa: F401  registers the task (transformers 5 removed it)

    qa = pipeline("extractive-question-answering", model=str(trained_run / "best_model"), device=-1)
    context = (
        "The river Ombra flows through the city of Velden in the north. " * 12
    )  # several windows
    out = qa(
        question="Which city does the river flow through?",
        context=context,
        max_length=64,
        doc_stride=16,
    )
    assert out["answer"] and context[out["start"] : out["end"]] == out["answer"]
    assert 0.0 < out["score"] <= 1.0


def test_eval_from_checkpoint_and_saved_model_match_training(
    trained_run: Path, tmp_path: Path, tiny_bert_dir
) -> None:
    metrics = json.loads((trained_run / "metrics.json").read_text())
    run_entry(
        "eval.py",
        [
            f"ckpt_path={metrics['best_checkpoint']}",
            f"model.tokenizer={tiny_bert_dir}",
            *SMALL_DATA[:5],
        ],
        tmp_path / "from_ckpt",
    )
    from_ckpt = json.loads((tmp_path / "from_ckpt" / "metrics.json").read_text())
    run_entry(
        "eval.py",
        [f"model.name_or_path={trained_run / 'best_model'}", *SMALL_DATA[:5]],
        tmp_path / "from_dir",
    )
    from_dir = json.loads((tmp_path / "from_dir" / "metrics.json").read_text())
    for scores in (from_ckpt, from_dir):
        assert scores["exact"] == pytest.approx(metrics["exact"], abs=1e-9)
        assert scores["f1"] == pytest.approx(metrics["f1"], abs=1e-9)
    assert json.loads((tmp_path / "from_dir" / "predictions.json").read_text()) == json.loads(
        (trained_run / "predictions.json").read_text()
    )
    check_run_files_documented(tmp_path / "from_dir")  # an eval.py folder


def test_a_checkpoint_scores_without_the_base_models_files(trained_run: Path, tmp_path: Path):
    """The checkpoint keeps the model's config and the tokenizer's files: eval.py builds the
    architecture and the tokenizer from them. It once called from_pretrained on the base
    model, which an offline machine (here: a base model folder that is gone) cannot."""
    import torch

    metrics = json.loads((trained_run / "metrics.json").read_text())
    checkpoint = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    assert checkpoint["model_config"]["model_type"] == "bert"
    checkpoint["hyper_parameters"]["model_name_or_path"] = str(tmp_path / "gone" / "base")
    moved = tmp_path / "moved.ckpt"
    torch.save(checkpoint, moved)
    run_entry("eval.py", [f"ckpt_path={moved}", *SMALL_DATA[:5]], tmp_path / "eval")
    scores = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (scores["exact"], scores["f1"]) == (metrics["exact"], metrics["f1"])
    assert json.loads((tmp_path / "eval" / "predictions.json").read_text()) == json.loads(
        (trained_run / "predictions.json").read_text()
    )


def test_a_runs_checkpoint_teaches_as_its_best_model(
    trained_run: Path, wordpiece_tokenizer, bpe_tokenizer
) -> None:
    """``model.teacher`` takes a run's .ckpt: its tokenizer is checked from the files the
    checkpoint keeps, and its logits (and cache key) are those of the run's best_model/,
    saved from the same weights."""
    import torch

    from qa_lightning.cli.train import check_teacher, load_teacher
    from qa_lightning.errors import ConfigError

    ckpt = json.loads((trained_run / "metrics.json").read_text())["best_checkpoint"]
    check_teacher(ckpt, wordpiece_tokenizer)
    with pytest.raises(ConfigError, match="tokenizes otherwise"):
        check_teacher(ckpt, bpe_tokenizer)

    def teacher(path: str):
        return load_teacher(
            OmegaConf.create({"model": {"teacher": path, "trust_remote_code": False}})
        )

    from_ckpt, from_folder = teacher(ckpt), teacher(str(trained_run / "best_model"))
    inputs = wordpiece_tokenizer(
        ["who ruled the land", "the king ruled"], padding=True, return_tensors="pt"
    )
    assert torch.allclose(from_ckpt(inputs), from_folder(inputs), atol=1e-6)
    assert from_ckpt.key == from_folder.key  # one cache entry for the same weights


def test_v2_run_in_the_cpu_precision_reports_hasans_noans_and_thresholds(
    tmp_path: Path, tiny_roberta_dir
) -> None:
    run_dir = tmp_path / "run"
    run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_roberta_dir}",
            *SMALL_DATA,
            "data.version_2=true",
            "data.synthetic.unanswerable_fraction=0.4",
            "trainer=cpu",  # precision auto: bf16 autocast on a CPU with native bf16
            "trainer.max_epochs=1",
            "logger=csv",
            "save_best_model=false",
            "+callbacks.extra.seen._target_=tests.cli.recorders.AutocastSeen",
            f"+callbacks.extra.seen.path={tmp_path / 'seen.json'}",
        ],
        run_dir,
    )
    # trainer=cpu trained in the precision this CPU calls for, said so and recorded it
    expected = auto_precision("cpu")[0]
    autocast = "torch.bfloat16" if expected == "bf16-mixed" else "none"
    seen = json.loads((tmp_path / "seen.json").read_text())
    assert seen == {"precision": expected, "autocast": autocast}
    assert OmegaConf.load(run_dir / "config.yaml").trainer.precision == expected
    assert f"trainer.precision=auto: {expected}" in (run_dir / "train.log").read_text()
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in (
        "HasAns_exact",
        "HasAns_f1",
        "NoAns_exact",
        "NoAns_f1",
        "best_exact",
        "best_exact_thresh",
        "best_f1",
        "best_f1_thresh",
    ):
        assert key in metrics, key
    assert metrics["HasAns_total"] + metrics["NoAns_total"] == metrics["total"] == 40
    null_odds = json.loads((run_dir / "null_odds.json").read_text())
    assert len(null_odds) == 40
    assert not (run_dir / "best_model").exists()


def test_fast_dev_run(tmp_path: Path, tiny_bert_dir) -> None:
    run_entry(
        "train.py",
        [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "debug=fast", "logger=none"],
        tmp_path / "fast",
    )


# ~9 s; slow since the docs tests joined the default run: tests/models/test_hub_unreachable.py
# checks the same message in process, and the one-line error path of train.py is the bad-input
# tests'
@pytest.mark.slow
def test_unreachable_model_message(tmp_path: Path, tiny_bert_dir) -> None:
    proc = run_entry(
        "train.py", ["model=distilbert", *SMALL_DATA, "logger=none"], tmp_path / "hub", check=False
    )
    assert proc.returncode == 1
    assert "distilbert-base-uncased" in proc.stderr and "model=minilm" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout  # one message, not a stack trace


def test_bad_config_value_is_one_line_error(tmp_path: Path, tiny_bert_dir) -> None:
    overrides = [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "data.doc_stride=60"]
    proc = run_entry("train.py", [*overrides, "logger=none"], tmp_path / "run", check=False)
    assert proc.returncode == 1
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "data.doc_stride=60" in line and "use doc_stride <" in line
    assert "Traceback" not in proc.stderr + proc.stdout


@pytest.mark.slow  # ~10 s; tests/cli/test_config.py checks the same rule in process
def test_a_bad_slice_node_fails_before_anything_loads(tmp_path: Path, tiny_bert_dir) -> None:
    overrides = [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "logger=none"]
    bad = "evaluation.slices=[{_target_:tests.evaluation.user_slices.NotASlice}]"
    proc = run_entry("train.py", [*overrides, bad], tmp_path / "run", check=False)
    assert proc.returncode == 1
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert (
        "evaluation.slices[0]._target_=" in line and "qa_lightning.evaluation.slices.Slice" in line
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "cache").exists()  # no data was read


def test_partial_validation_scores_only_complete_examples(tmp_path: Path, tiny_bert_dir) -> None:
    run_dir = tmp_path / "run"
    # in dataset order, the first 16 windows hold whole examples and a part of one more
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *SMALL_DATA,
        "data.eval_batch_size=8",
        "data.group_by_length=false",
    ]
    overrides += [
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=2",
        "logger=none",
        "save_best_model=false",
    ]
    proc = run_entry("train.py", overrides, run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert 0 < metrics["total"] < 40
    assert len(predictions) == metrics["total"]
    # counted and said: it once scored a part with no count and no warning
    unscored = 40 - metrics["total"]
    assert metrics["unscored"] == metrics["sets"]["validation"]["unscored"] == unscored
    assert f"validation: {unscored} of 40 questions had windows" in proc.stderr + proc.stdout


def test_failed_job_marks_its_wandb_run_failed(tmp_path: Path, tiny_bert_dir) -> None:
    # weights that will not load fail after W&B starts (a bad data file fails before it)
    model_dir = shutil.copytree(tiny_bert_dir, tmp_path / "no-weights")
    (model_dir / "model.safetensors").unlink()
    run_dir = tmp_path / "run"
    overrides = [f"model.name_or_path={model_dir}", *SMALL_DATA]
    proc = run_entry("train.py", [*overrides, "logger=wandb"], run_dir, check=False)
    assert proc.returncode != 0
    assert f"could not load the model '{model_dir}'" in proc.stderr
    summary = wandb_summary(run_dir)
    assert summary["exit_code"] == 1 and summary["state"] != "finished"
    assert not (run_dir / "metrics.json").exists()


@pytest.mark.slow  # 37 s: keeps the default run under 15 minutes (make test-all runs it)
def test_frozen_head_run_reloads_in_eval_from_checkpoint_and_saved_dir(
    tmp_path: Path, tiny_bert_dir
) -> None:
    run_dir = tmp_path / "run"
    head = ["model.head=bilstm", "model.freeze=all", "model.head_args.hidden_size=16"]
    run_entry(
        "train.py",
        [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, *head, "logger=csv"],
        run_dir,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert 0 < metrics["trainable_parameters"] < metrics["frozen_parameters"]
    # the config's values leave the run as plain strings: config.yaml reads back with a
    # safe loader, the checkpoint's hyper-parameters with weights_only
    import torch
    import yaml

    config = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert (config["model"]["head"], config["model"]["freeze"]) == ("bilstm", "all")
    assert (config["scheduler"]["name"], config["data"]["on_bad_record"]) == ("linear", "raise")
    ckpt = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    hparams = ckpt["hyper_parameters"]
    settings = (hparams["freeze"], hparams["scheduler"]["name"])
    assert settings == ("all", "linear") and {type(v) for v in settings} == {str}
    # the frozen encoder is left out of the checkpoint, named by hash (eval.py below gets
    # it back from the base model)
    assert not any(k.startswith("model.encoder.") for k in ckpt["state_dict"])
    assert ckpt["frozen_weights"]["names"] and len(ckpt["frozen_weights"]["sha256"]) == 64
    # the head by name is saved as its node: a class path and keyword arguments, plain data
    node = {"_target_": "qa_lightning.models.heads.BiLSTMHead", "width": 16, "num_layers": 1}
    assert hparams["head"] == {**node, "dropout": 0.1}
    saved = json.loads((run_dir / "best_model" / "qa_head.json").read_text())
    assert saved["head"] == {**node, "dropout": 0.1}
    assert list((tmp_path / "cache" / "encoder").iterdir())  # the encoder cache was used
    assert (run_dir / "best_model" / "qa_head.safetensors").is_file()
    trained = json.loads((run_dir / "predictions.json").read_text())
    for name, overrides in {
        "from_ckpt": [
            f"ckpt_path={metrics['best_checkpoint']}",
            f"model.tokenizer={tiny_bert_dir}",
        ],
        "from_dir": [f"model.name_or_path={run_dir / 'best_model'}"],
        "from_dir_recomputed": [
            f"model.name_or_path={run_dir / 'best_model'}",
            "model.encoder_cache=false",
        ],
    }.items():
        run_entry("eval.py", [*overrides, *SMALL_DATA[:5]], tmp_path / name)
        predictions = json.loads((tmp_path / name / "predictions.json").read_text())
        if name == "from_dir_recomputed":  # float32 states instead of the cached float16
            agree = sum(predictions[k] == trained[k] for k in trained) / len(trained)
            assert agree >= 0.9, agree
            continue
        scores = json.loads((tmp_path / name / "metrics.json").read_text())
        assert scores["f1"] == pytest.approx(metrics["f1"], abs=1e-9), name
        assert predictions == trained, name


@pytest.mark.slow
def test_compiled_training_saves_a_plain_model(tmp_path: Path, tiny_bert_dir) -> None:
    """model.compile=true compiles the network in place: checkpoints and the saved model
    load without torch.compile and give the run's predictions."""
    run_dir = tmp_path / "run"
    overrides = [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "trainer.max_epochs=1"]
    run_entry("train.py", [*overrides, "model.compile=true", "logger=csv"], run_dir)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    import torch

    state = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    assert not any("_orig_mod" in key for key in state["state_dict"])
    run_entry(
        "eval.py",
        [f"model.name_or_path={run_dir / 'best_model'}", *SMALL_DATA[:5], "logger=none"],
        tmp_path / "eval",
    )
    assert json.loads((tmp_path / "eval" / "predictions.json").read_text()) == json.loads(
        (run_dir / "predictions.json").read_text()
    )


def test_export_answers_as_the_run_and_its_card_holds_the_runs_scores(
    trained_run: Path, tmp_path: Path
) -> None:
    from qa_lightning.data.synthetic import make_synthetic_squad
    from qa_lightning.inference import Answerer, qa_pipeline
    from qa_lightning.tracking.model_card import card_metadata

    out = tmp_path / "tiny-qa"
    run_entry(
        "export.py",
        [f"run={trained_run}", f"out={out}", "quantize=static", "calibration_windows=43"],
        tmp_path / "log",
    )
    assert (out / "model.safetensors").is_file() and (out / "tokenizer.json").is_file()
    # static int8 calibrated on a seeded sample of the run's own training windows
    int8 = json.loads((out / "onnx" / "quantization.json").read_text())
    assert int8["method"] == "static"
    assert int8["calibration"] == {
        "data": "synthetic",
        "split": "train",
        "seed": 42,
        "windows": 40,
        "padded_to": 96,
    }
    decoding = json.loads((out / "qa_decoding.json").read_text())
    assert (decoding["max_length"], decoding["doc_stride"]) == (96, 32)  # the run's, not 384

    # the validation set of SMALL_DATA (data.synthetic, n_eval=40): the same answers
    examples = make_synthetic_squad(40, seed=10_000, id_prefix="syn-validation")
    items = [
        {"question": q, "context": c}
        for q, c in zip(examples["question"], examples["context"], strict=True)
    ]
    predictions = json.loads((trained_run / "predictions.json").read_text())
    want = [predictions[i] for i in examples["id"]]
    got = Answerer.from_folder(str(out)).answer(items, batch_size=7)
    assert [g["answer"] for g in got] == want
    got = Answerer.from_folder(str(out), backend="onnx").answer(items, batch_size=5)
    assert [g["answer"] for g in got] == want
    assert [a["answer"] for a in qa_pipeline(str(out))(items, batch_size=8)] == want
    int8 = Answerer.from_folder(str(out), backend="onnx", quantized=True)
    assert int8.answer(items, batch_size=16) == int8.answer(items, batch_size=1)

    # predict.py on the export through onnxruntime, with the export's windows (96/32: its
    # qa_decoding.json) though the command line names none
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        "".join(
            json.dumps({"id": i, **item}) + "\n"
            for i, item in zip(examples["id"], items, strict=True)
        )
    )
    run_entry(
        "predict.py",
        [
            f"model.name_or_path={out}",
            "backend=onnx",
            "data=squad_json",
            f"data.predict_file={questions}",
            "trainer=cpu",
        ],
        tmp_path / "predict",
    )
    assert json.loads((tmp_path / "predict" / "predictions.json").read_text()) == predictions
    used = OmegaConf.load(tmp_path / "predict" / "config.yaml")
    assert (used.data.max_length, used.data.doc_stride, used.backend) == (96, 32, "onnx")

    metrics = json.loads((trained_run / "metrics.json").read_text())
    card = (out / "README.md").read_text()
    meta = card_metadata(card)
    (result,) = meta["model-index"][0]["results"]
    scores = {m["type"]: m["value"] for m in result["metrics"]}
    entry = metrics["sets"]["validation"]
    assert scores == {
        "exact_match": round(entry["scores"]["exact"], 2),
        "f1": round(entry["scores"]["f1"], 2),
    }
    low, high = entry["intervals"]["f1"]
    assert f"{entry['scores']['f1']:.2f} [{low:.2f}, {high:.2f}]" in card
    assert meta["pipeline_tag"] == "question-answering" and meta["base_model"]
    assert "python train.py" in card and "data.doc_stride=32" in card
    assert "is static int8" in card and "Calibrated on 40 windows of `synthetic`" in card
    check_run_files_documented(out)  # an export with onnx/
    check_run_files_documented(tmp_path / "predict")  # a predict.py folder


def test_export_from_a_checkpoint_answers_as_it_and_scores_only_the_best(
    trained_run: Path, tmp_path: Path
) -> None:
    from qa_lightning.cli.export import run_folder, write_export
    from qa_lightning.data.synthetic import make_synthetic_squad
    from qa_lightning.inference import Answerer
    from qa_lightning.tracking.model_card import card_metadata

    metrics = json.loads((trained_run / "metrics.json").read_text())
    best = Path(metrics["best_checkpoint"])
    assert run_folder(str(best)) == trained_run
    write_export(trained_run, tmp_path / "best", checkpoint=best)
    examples = make_synthetic_squad(40, seed=10_000, id_prefix="syn-validation")
    items = [
        {"question": q, "context": c}
        for q, c in zip(examples["question"], examples["context"], strict=True)
    ]
    predictions = json.loads((trained_run / "predictions.json").read_text())
    got = Answerer.from_folder(str(tmp_path / "best")).answer(items)
    assert [g["answer"] for g in got] == [predictions[i] for i in examples["id"]]
    assert card_metadata((tmp_path / "best" / "README.md").read_text())["model-index"]

    last = trained_run / "checkpoints" / "last.ckpt"  # not the best: its scores are unknown
    write_export(trained_run, tmp_path / "last", checkpoint=last)
    card = (tmp_path / "last" / "README.md").read_text()
    assert "model-index" not in card_metadata(card)
    assert f"python eval.py ckpt_path={last}" in card


def test_export_push_to_hub_offline_is_one_line_and_keeps_the_folder(
    trained_run: Path, tmp_path: Path
) -> None:
    out = tmp_path / "pushed"
    done = run_entry(
        "export.py",
        [f"run={trained_run}", f"out={out}", "push_to_hub=nobody/tiny-qa"],
        tmp_path / "log",
        check=False,
        env={"HF_ENDPOINT": "http://127.0.0.1:9", "HF_TOKEN": "hf_none"},
    )
    assert done.returncode == 1
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("error:")]
    assert "push_to_hub=nobody/tiny-qa" in line and str(out) in line
    assert (out / "README.md").is_file()


def test_export_refuses_a_folder_that_is_not_a_finished_run(tmp_path: Path) -> None:
    from qa_lightning.cli.export import run_folder
    from qa_lightning.errors import ConfigError

    (tmp_path / "config.yaml").write_text("data: {}\n")
    with pytest.raises(ConfigError, match=r"metrics.json is missing; give a finished"):
        run_folder(str(tmp_path))
