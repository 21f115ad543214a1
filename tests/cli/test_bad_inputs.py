"""Bad inputs through the real entry point: exit 1, one ``error:`` line naming the file,
record or key, no traceback, and nothing left that a later run would trust (no completed
metrics.json, no feature cache entry). The readers' exact messages are checked case by case
in tests/data/test_sources.py; this checks what a user at the command line sees."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.cli.test_train_eval import SMALL_DATA, run_entry
from tests.data.test_sources import CTX1, bad_doc, squad_doc, write_squad


def good_file(tmp_path: Path) -> Path:
    return write_squad(tmp_path / "good.json", squad_doc())


def bad_json(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    path.write_text('{"version": "v2.0",\n "data": [\n  {"title": "x",, }]}', encoding="utf-8")
    return path


def bad_bytes(tmp_path: Path) -> Path:
    path = tmp_path / "bad.json"
    text = json.dumps(squad_doc(), ensure_ascii=False).replace("412", "4\udcff12")
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    return path


CASES = {
    "malformed JSON": (bad_json, ["malformed JSON at line 3 column 17"]),
    "answer_start off by one": (
        lambda t: write_squad(
            t / "bad.json", bad_doc(answers=[{"text": "412 kilometres", "answer_start": 65}])
        ),
        ["record id 'q2'", "is not at answer_start=65"],
    ),
    "answer_start past the end": (
        lambda t: write_squad(
            t / "bad.json", bad_doc(answers=[{"text": "412", "answer_start": len(CTX1)}])
        ),
        ["record id 'q2'", "out of range"],
    ),
    "duplicate ids": (
        lambda t: write_squad(t / "bad.json", bad_doc(id="q1")),
        ["id 'q1' is duplicated"],
    ),
    "empty question": (
        lambda t: write_squad(t / "bad.json", bad_doc(question=" ")),
        ["record id 'q2'", "empty question"],
    ),
    "missing field": (
        lambda t: write_squad(t / "bad.json", bad_doc(question=None)),
        ["record id 'q2'", "question"],
    ),
    "non-UTF-8 bytes": (bad_bytes, ["UTF-8"]),
}


def assert_one_line_error(proc, *needles: str) -> str:
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    for needle in needles:
        assert needle in line, line
    return line


def assert_nothing_trusted_left(run_dir: Path, cache_dir: Path) -> None:
    metrics = run_dir / "metrics.json"
    assert not metrics.exists() or json.loads(metrics.read_text()).get("status") != "completed"
    features = cache_dir / "features"
    assert not features.exists() or not [p for p in features.iterdir() if p.is_dir()]


# Every case's exact message is a unit test in tests/data/test_sources.py; through train.py
# (about 9 s each, mostly imports) two cases run by default and the rest with `make test-all`.
THROUGH_TRAIN_PY = ("malformed JSON", "duplicate ids")


@pytest.mark.parametrize(
    "case",
    [c if c in THROUGH_TRAIN_PY else pytest.param(c, marks=pytest.mark.slow) for c in CASES],
)
def test_bad_data_file_stops_with_one_line(case, tmp_path, tiny_bert_dir):
    make, needles = CASES[case]
    bad = make(tmp_path)
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            "data=squad_json",
            f"data.train_file={bad}",
            f"data.validation_file={good_file(tmp_path)}",
            "logger=csv",
        ],
        tmp_path / "run",
        check=False,
    )
    assert_one_line_error(proc, str(bad), *needles)
    assert_nothing_trusted_left(tmp_path / "run", tmp_path / "cache")


def test_unknown_config_key_names_it(tmp_path, tiny_bert_dir):
    proc = run_entry(
        "train.py",
        [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "data.doc_strid=64"],
        tmp_path / "run",
        check=False,
    )
    assert proc.returncode == 1
    assert "data.doc_strid" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run").exists()  # nothing ran: Hydra refused the config


def test_checkpoint_of_another_model_is_refused(tmp_path, tiny_bert_dir, tiny_roberta_dir):
    from qa_lightning.models.qa_module import QAModule

    bert = QAModule(str(tiny_bert_dir))
    ckpt = tmp_path / "bert.ckpt"
    torch.save({"state_dict": bert.state_dict(), "hyper_parameters": dict(bert.hparams)}, ckpt)
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_roberta_dir}",
            *SMALL_DATA,
            f"ckpt_path={ckpt}",
            "logger=csv",
        ],
        tmp_path / "run",
        check=False,
    )
    line = assert_one_line_error(proc, f"ckpt_path={ckpt}", "another model", str(tiny_bert_dir))
    assert str(tiny_roberta_dir) in line
    assert not (tmp_path / "run" / "metrics.json").exists()
    # the data is read before the model (and so the checkpoint): its features, of good
    # data, are cached whole, for the corrected run to use
    entries = [p for p in (tmp_path / "cache" / "features").iterdir() if p.is_dir()]
    assert entries and all((entry / "_COMPLETE").is_file() for entry in entries)


def test_a_bad_fixed_choice_stops_train_py_in_one_line_before_anything_loads(
    tmp_path, tiny_bert_dir
):
    proc = run_entry(
        "train.py",
        [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "model.freeze=bogus"],
        tmp_path / "run",
        check=False,
    )
    assert_one_line_error(proc, "model.freeze='bogus'; use one of none, embeddings, layers, all")
    assert not (tmp_path / "run" / "config.yaml").exists()  # refused before it was recorded
    assert not (tmp_path / "cache").exists()  # no data was read


def test_an_optimized_metric_typo_stops_before_training(tmp_path, tiny_bert_dir):
    proc = run_entry(
        "train.py",
        [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, "optimized_metric=val/F1"],
        tmp_path / "run",
        check=False,
    )
    line = assert_one_line_error(
        proc, "optimized_metric='val/F1' is not a metric this run logs", "did you mean val/f1?"
    )
    assert "use one of val/exact, val/f1," in line
    assert not (tmp_path / "run" / "checkpoints").exists()
    assert_nothing_trusted_left(tmp_path / "run", tmp_path / "cache")


@pytest.mark.parametrize(
    "script",
    ["train.py", pytest.param("eval.py", marks=pytest.mark.slow)],  # ~10 s each
)
def test_max_length_beyond_the_models_positions_stops_before_the_weights_load(
    script, tmp_path, wordpiece_tokenizer
):
    from tests.tiny_model import save_tiny_qa_model

    model_dir = save_tiny_qa_model(
        tmp_path / "short-model", wordpiece_tokenizer, max_position_embeddings=64
    )
    # no weights at all: had they been read first, the error would be about them
    (model_dir / "model.safetensors").unlink()
    data = SMALL_DATA if script == "train.py" else SMALL_DATA[:5]  # eval.py: no optimizer
    proc = run_entry(
        script,
        [f"model.name_or_path={model_dir}", *data, "logger=csv"],  # max_length=96
        tmp_path / "run",
        check=False,
    )
    assert_one_line_error(
        proc,
        "data.max_length=96 is longer than the model",
        "its position limit is 64 tokens (max_position_embeddings=64)",
        "use data.max_length <= 64",
    )
    assert_nothing_trusted_left(tmp_path / "run", tmp_path / "cache")


def test_bad_synthetic_settings_stop_in_one_line(tmp_path, tiny_bert_dir):
    """Once a plain ValueError with a traceback, raised when the data was generated
    (data.columns likewise: tests/cli/test_config.py checks both before anything runs)."""
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "logger=csv",
            "data.synthetic.unanswerable_fraction=1.5",
        ],
        tmp_path / "run",
        check=False,
    )
    assert_one_line_error(proc, "data.synthetic.unanswerable_fraction=1.5", "between 0 and 1")
    assert_nothing_trusted_left(tmp_path / "run", tmp_path / "cache")


def test_a_run_dir_that_cannot_be_made_fails_in_one_line(tmp_path):
    """Once Hydra's FileNotFoundError traceback (hydra.run.dir=/proc/x)."""
    (tmp_path / "file").write_text("")
    proc = run_entry("train.py", ["experiment=demo"], tmp_path / "file" / "run", check=False)
    assert_one_line_error(proc, f"hydra.run.dir='{tmp_path / 'file' / 'run'}' cannot be created")


def test_a_saved_head_file_with_an_unexpected_key_is_refused_naming_it(tmp_path):
    """Once a TypeError traceback from HeadArgs(**head_args): nothing read from a file runs."""
    from qa_lightning.errors import ConfigError
    from qa_lightning.models.head_module import HEAD_CONFIG, load_saved_head, saved_head_settings

    path = tmp_path / HEAD_CONFIG
    settings = {"head": "linear", "head_args": {"_target_": "os.system"}, "hidden_layer": -1}
    path.write_text(json.dumps(settings))
    for read in (saved_head_settings, lambda d: load_saved_head(d, 32)):
        with pytest.raises(ConfigError) as err:
            read(tmp_path)
        assert str(err.value).startswith(f"{path} has unexpected key head_args._target_")
    path.write_text(json.dumps({**settings, "head_args": {}, "_target_": "os.system"}))
    with pytest.raises(ConfigError, match=r"has unexpected key '_target_'; allowed: head, "):
        saved_head_settings(tmp_path)


def test_a_bad_data_file_fails_before_wandb_and_the_weights_load(tmp_path, tiny_bert_dir):
    """Once read inside trainer.fit, 15-20 s in, after W&B and the model had loaded."""
    import shutil

    model_dir = shutil.copytree(tiny_bert_dir, tmp_path / "no-weights")
    (model_dir / "model.safetensors").unlink()  # had they been read first, the error says so
    bad = bad_json(tmp_path)
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={model_dir}",
            "data=squad_json",
            f"data.train_file={bad}",
            f"data.validation_file={good_file(tmp_path)}",
            "logger=wandb",
        ],
        tmp_path / "run",
        check=False,
    )
    assert_one_line_error(proc, str(bad), "malformed JSON at line 3 column 17")
    assert not (tmp_path / "run" / "wandb").exists()  # W&B never started
    assert_nothing_trusted_left(tmp_path / "run", tmp_path / "cache")


def test_an_optimizer_key_typo_fails_before_anything_loads(tmp_path, tiny_bert_dir):
    """A key the optimizer does not take (``+`` adds it to the open node) is refused by the
    start check, naming it, before the data or the weights (there are none) load."""
    import shutil

    model_dir = shutil.copytree(tiny_bert_dir, tmp_path / "no-weights")
    (model_dir / "model.safetensors").unlink()  # had they been read first, the error says so
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={model_dir}",
            *SMALL_DATA,
            "logger=csv",
            "optimizer=sgd",
            "+optimizer.momentun=0.9",
        ],
        tmp_path / "run",
        check=False,
    )
    assert_one_line_error(proc, "optimizer.momentun: SGD takes no 'momentun'; it takes lr,")
    assert_nothing_trusted_left(tmp_path / "run", tmp_path / "cache")
    assert not (tmp_path / "run" / "config.yaml").exists()  # stopped before the run began
