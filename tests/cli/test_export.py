"""export.py deletes and runs only what it was asked to, and its folder answers as its card
says: on a run scored in bf16 autocast, in bf16 autocast."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from omegaconf import OmegaConf

from qa_lightning.cli.export import EXPORT_MARKER, export
from qa_lightning.config import ExportConfig
from qa_lightning.errors import UserError
from tests.cli.test_safety import _with_custom_code
from tests.cli.test_train_eval import SMALL_DATA, run_entry
from tests.docs.coverage import check_run_files_documented


@pytest.fixture(scope="module")
def bf16_run(tmp_path_factory, tiny_bert_dir) -> Path:
    """A finished run trained and scored in bf16 autocast (what trainer=cpu's
    precision=auto picks on a CPU with native bf16), 40 validation questions."""
    run_dir = tmp_path_factory.mktemp("bf16") / "run"
    run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "trainer=cpu",
            "trainer.precision=bf16-mixed",
            "trainer.max_epochs=2",
            "logger=csv",
            "extras.print_config=false",
        ],
        run_dir,
    )
    return run_dir


@pytest.fixture
def run_copy(bf16_run: Path, tmp_path: Path) -> Path:
    """A copy of the run that a test may damage; beside it a file of the user's own."""
    copy = tmp_path / "runs" / "run"
    shutil.copytree(bf16_run, copy)
    (copy.parent / "notes.txt").write_text("mine")
    return copy


def _export(**settings) -> str:
    cfg = OmegaConf.merge(OmegaConf.structured(ExportConfig), settings)
    return export(cfg)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_out_is_refused_where_the_export_would_replace_what_it_did_not_write(
    run_copy: Path, tmp_path: Path
) -> None:
    other = tmp_path / "someone"
    other.mkdir()
    (other / "data.txt").write_text("keep")
    before = _files(tmp_path)
    refused = {
        run_copy: "is the run folder",
        run_copy.parent: "a folder above it",
        tmp_path: "a folder above it",
        run_copy / "best_model": "is not an export.py folder",
        run_copy / "metrics.json": "is not an export.py folder",
        run_copy / "checkpoints" / "export": "is inside",
        run_copy / "best_model" / "x": "is inside",
        other: "is not an export.py folder",
    }
    for out, reason in refused.items():
        with pytest.raises(UserError) as err:
            _export(run=str(run_copy), out=str(out))
        message = str(err.value)
        assert f"out={out}" in message and reason in message and "\n" not in message, message
    assert _files(tmp_path) == before  # not one file deleted or changed


def test_an_earlier_export_is_replaced_only_with_overwrite(run_copy: Path) -> None:
    default = Path(_export(run=str(run_copy)))
    assert default == run_copy / "export" and (default / EXPORT_MARKER).is_file()
    marker = json.loads((default / EXPORT_MARKER).read_text())
    assert marker["run"] == str(run_copy)
    (default / "stale.txt").write_text("from before")
    with pytest.raises(UserError, match="holds an earlier export; give overwrite=true"):
        _export(run=str(run_copy))
    assert (default / "stale.txt").is_file()
    _export(run=str(run_copy), overwrite=True)
    assert not (default / "stale.txt").exists() and (default / "README.md").is_file()
    assert (run_copy / "config.yaml").is_file() and (run_copy / "metrics.json").is_file()


def test_the_files_of_an_export_and_of_its_run_are_named_on_a_page(run_copy: Path) -> None:
    default = Path(_export(run=str(run_copy)))
    check_run_files_documented(default)  # qa_decoding.json, qa_export.json, README.md ...
    check_run_files_documented(run_copy)  # export/ beside the run's own files


def test_a_run_folders_config_cannot_switch_on_custom_code(
    run_copy: Path, tmp_path: Path, tiny_bert_dir
) -> None:
    """The run says trust_remote_code: true and its model names code that leaves a file:
    export.py runs it only if its own command line says so."""
    config = OmegaConf.load(run_copy / "config.yaml")
    config.model.trust_remote_code = True
    OmegaConf.save(config, run_copy / "config.yaml")
    best = run_copy / "best_model"
    shutil.rmtree(best)
    _, marker = _with_custom_code(tiny_bert_dir, best, "qa-custom-export")
    for onnx in (False, True):
        with pytest.raises(UserError) as err:
            _export(run=str(run_copy), out=str(tmp_path / "out"), onnx=onnx)
        assert "model.trust_remote_code=true" in str(err.value) and "\n" not in str(err.value)

    # a checkpoint whose model is that code (the run folder still trusts it)
    custom, marker2 = _with_custom_code(tiny_bert_dir, tmp_path / "custom", "qa-custom-ckpt")
    ckpt = run_copy / "checkpoints" / "custom.ckpt"
    hparams = {"model_name_or_path": str(custom), "trust_remote_code": True}
    torch.save(
        {
            "state_dict": {},
            "hyper_parameters": hparams,
            "pytorch-lightning_version": pl.__version__,
        },
        ckpt,
    )
    with pytest.raises(UserError, match="model.trust_remote_code=true"):
        _export(run=str(ckpt), out=str(tmp_path / "out"))
    assert not marker.exists() and not marker2.exists()
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("umask", "folder_mode"), [(0o022, 0o755), (0o077, 0o700)])
def test_an_export_has_the_users_umask(run_copy: Path, tmp_path, umask, folder_mode) -> None:
    old = os.umask(umask)
    try:
        out = Path(_export(run=str(run_copy), out=str(tmp_path / "shared")))
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == folder_mode
    for name in ("README.md", "qa_decoding.json", EXPORT_MARKER):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o666 & ~umask, name


def test_an_export_of_a_bf16_run_answers_as_its_card(bf16_run: Path, tmp_path: Path) -> None:
    """Every validation question gets predictions.json's answer with nbest_predictions.json's
    probability (fp32 differs from it by up to 1e-5 on this model), through the pipeline,
    the Answerer and predict.py."""
    from qa_lightning.data.synthetic import make_synthetic_squad
    from qa_lightning.inference import Answerer, qa_pipeline

    out = Path(_export(run=str(bf16_run), out=str(tmp_path / "export")))
    decoding = json.loads((out / "qa_decoding.json").read_text())
    run_config = OmegaConf.load(bf16_run / "config.yaml")
    assert decoding["precision"] == "bf16-mixed"
    assert decoding["batch_size"] == run_config.data.eval_batch_size  # the batches it scored
    assert "computed in `bf16-mixed`" in (out / "README.md").read_text()

    examples = make_synthetic_squad(40, seed=10_000, id_prefix="syn-validation")
    items = [
        {"question": q, "context": c}
        for q, c in zip(examples["question"], examples["context"], strict=True)
    ]
    predictions = json.loads((bf16_run / "predictions.json").read_text())
    nbest = json.loads((bf16_run / "nbest_predictions.json").read_text())
    want = [predictions[i] for i in examples["id"]]
    scores = [nbest[i][0]["probability"] for i in examples["id"]]
    pipe = qa_pipeline(str(out))
    for got in (
        pipe(items, batch_size=16),
        [pipe(item) for item in items],
        Answerer.from_folder(str(out)).answer(items),
    ):
        assert [g["answer"] for g in got] == want
        assert [g["score"] for g in got] == pytest.approx(scores, abs=1e-6)

    run_entry(
        "predict.py",
        [
            f"model.name_or_path={out}",
            "data=squad_json",
            f"data.predict_file={_jsonl(tmp_path, items, examples['id'])}",
        ],
        tmp_path / "predict",
    )
    used = OmegaConf.load(tmp_path / "predict" / "config.yaml")
    assert used.trainer.precision == "bf16-mixed"  # from qa_decoding.json: no override given
    assert json.loads((tmp_path / "predict" / "predictions.json").read_text()) == predictions


def test_best_model_answers_as_its_run_scored(bf16_run: Path) -> None:
    """train.py writes the run's windows, decoding and precision into best_model/ (it had
    none, so the Answerer, the pipeline and serve.py on it used the default windows and
    fp32): the Answerer on best_model/ gives predictions.json's answers."""
    from qa_lightning.cli.export import decoding_settings
    from qa_lightning.data.synthetic import make_synthetic_squad
    from qa_lightning.inference import Answerer, DecodingSettings

    best = bf16_run / "best_model"
    config = OmegaConf.to_container(OmegaConf.load(bf16_run / "config.yaml"))
    assert DecodingSettings.of_folder(best) == decoding_settings(config)
    assert DecodingSettings.of_folder(best).precision == "bf16-mixed"

    examples = make_synthetic_squad(40, seed=10_000, id_prefix="syn-validation")
    items = [
        {"question": q, "context": c}
        for q, c in zip(examples["question"], examples["context"], strict=True)
    ]
    predictions = json.loads((bf16_run / "predictions.json").read_text())
    got = Answerer.from_folder(str(best)).answer(items)
    assert [g["answer"] for g in got] == [predictions[i] for i in examples["id"]]


def _jsonl(tmp_path: Path, items: list[dict], ids: list[str]) -> Path:
    path = tmp_path / "questions.jsonl"
    path.write_text(
        "".join(json.dumps({"id": i, **it}) + "\n" for i, it in zip(ids, items, strict=True))
    )
    return path


def test_saved_precision_fills_only_what_the_command_line_left(tmp_path: Path) -> None:
    from qa_lightning.cli.common import apply_saved_decoding
    from qa_lightning.inference.answerer import DecodingSettings

    DecodingSettings(max_length=96, precision="bf16-mixed").write(tmp_path)
    data = {"max_length": 384, "doc_stride": 128, "max_question_tokens": None}
    data |= {"n_best_size": 20, "max_answer_length": 30, "version_2": False}
    data |= {"null_score_diff_threshold": 0.0}
    for backend, precision in (("torch", "bf16-mixed"), ("onnx", "32-true")):
        cfg = OmegaConf.create(
            {
                "model": {"name_or_path": str(tmp_path)},
                "data": data,
                "trainer": {"precision": "32-true"},
                "backend": backend,
            }
        )
        apply_saved_decoding(cfg)
        assert (cfg.data.max_length, cfg.trainer.precision) == (96, precision)


def test_an_export_records_whether_its_head_was_scored_from_the_encoder_cache(
    bf16_run: Path,
) -> None:
    from qa_lightning.cli.export import decoding_settings

    config = OmegaConf.to_container(OmegaConf.load(bf16_run / "config.yaml"))
    assert decoding_settings(config).encoder_states is None  # fine-tuned whole
    config["model"] |= {"head": "mlp", "freeze": "all", "encoder_cache": True}
    assert decoding_settings(config).encoder_states == "float16"
    config["model"]["encoder_cache"] = False
    assert decoding_settings(config).encoder_states is None
