"""MRQA files and reader nodes through the real entry points (train.py, predict.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qa_lightning.data.synthetic import make_synthetic_squad
from tests.cli.test_train_eval import SMALL_DATA, run_entry
from tests.data.test_readers import official_mrqa_scores

SHAPE = SMALL_DATA[3:]  # max_length, doc_stride, batch_size, lr (not data=synthetic)


def write_mrqa_from(path: Path, examples) -> Path:
    """One MRQA context line per example, after a header; every occurrence detected."""
    lines = [{"header": {"dataset": "Synthetic", "split": path.stem}}]
    for row in examples:
        text, start = row["answers"]["text"][0], row["answers"]["answer_start"][0]
        spans, at = [], row["context"].find(text)
        while at >= 0:
            spans.append([at, at + len(text) - 1])
            at = row["context"].find(text, at + 1)
        assert [start, start + len(text) - 1] in spans
        qa = {
            "qid": row["id"],
            "question": row["question"],
            "answers": [text],
            "detected_answers": [{"text": text, "char_spans": spans}],
        }
        lines.append({"context": row["context"], "qas": [qa]})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.slow  # two entry-point runs, about 25 s
def test_train_and_predict_on_mrqa_files_score_as_the_official_script(
    tmp_path: Path, tiny_bert_dir
) -> None:
    train = write_mrqa_from(tmp_path / "train.jsonl", make_synthetic_squad(120, seed=81))
    dev = write_mrqa_from(tmp_path / "dev.jsonl", make_synthetic_squad(40, seed=82, id_prefix="d"))
    run_dir = tmp_path / "run"
    run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            "data=mrqa",
            f"data.train_file={train}",
            f"data.validation_file={dev}",
            f"+data.eval_sets.again={dev}",  # an MRQA path, recognised by its first line
            *SHAPE,
            "trainer=cpu",
            "trainer.precision=32-true",
            "trainer.max_epochs=1",
            "logger=none",
        ],
        run_dir,
    )
    metrics = json.loads((run_dir / "metrics.json").read_text())
    predictions = json.loads((run_dir / "predictions.json").read_text())
    assert sorted(predictions) == sorted(f"d-{i}" for i in range(40))  # keyed by qid
    official = official_mrqa_scores(dev, predictions)
    for name in ("validation", "again"):
        scores = metrics["sets"][name]["scores"]
        assert scores["total"] == 40
        assert scores["exact"] == pytest.approx(official["exact"])
        assert scores["f1"] == pytest.approx(official["f1"])

    out = tmp_path / "predict"
    run_entry(
        "predict.py",
        [f"model.name_or_path={run_dir / 'best_model'}", f"data.predict_file={dev}", *SHAPE[:2]],
        out,
    )
    assert json.loads((out / "predictions.json").read_text()) == predictions


@pytest.mark.parametrize(
    ("entry", "key"),
    [
        ("train", "data.train_file"),
        ("eval", "data.eval_sets.mine"),
        ("predict", "data.predict_file"),
    ],
)
def test_every_entry_point_checks_reader_nodes_before_anything_loads(
    tmp_path: Path, entry: str, key: str
) -> None:
    from qa_lightning.cli.evaluate import evaluate
    from qa_lightning.cli.predict import predict
    from qa_lightning.cli.train import train
    from qa_lightning.errors import ConfigError
    from tests.cli.test_config import _compose

    bad = "{_target_:collections.OrderedDict}"
    given = {
        "train": ["data=synthetic", f"data.train_file={bad}"],
        "eval": ["data=synthetic", f"+data.eval_sets.mine={bad}"],
        "predict": [f"data.predict_file={bad}"],
    }[entry]
    cfg = _compose(entry, [*given, f"paths.cache_dir={tmp_path / 'cache'}"])
    run = {"train": train, "eval": evaluate, "predict": predict}[entry]
    with pytest.raises(ConfigError, match=rf"^{re.escape(key)}\._target_=.*is not a data reader"):
        run(cfg)
    assert not (tmp_path / "cache").exists()


@pytest.mark.slow  # a train.py process, ~10-20 s; the one-line stderr of the check above
def test_a_bad_reader_target_fails_train_py_in_one_line_before_anything_loads(
    tmp_path: Path, tiny_bert_dir
) -> None:
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "logger=none",
            "data.train_file={_target_:no_such_pkg.MyReader,path:x.jsonl}",
        ],
        tmp_path / "run",
        check=False,
    )
    assert proc.returncode == 1
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "data.train_file._target_='no_such_pkg.MyReader' cannot be imported" in line
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "cache").exists()  # no features, no encoder states
