"""Several evaluation sets per run, eval.py on sets alone, predict.py on unlabelled files."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from qa_lightning.config import BUILTIN_SLICE_TARGETS
from qa_lightning.data.synthetic import make_synthetic_squad
from tests.cli.test_train_eval import SMALL_DATA, run_entry, wandb_summary
from tests.docs.coverage import check_run_files_documented


def write_squad_json(path: Path, examples, *, with_answers: bool = True) -> Path:
    """Examples as an official nested SQuAD file (one paragraph per context)."""
    paragraphs: dict[str, list] = {}
    for row in examples:
        qa = {"id": row["id"], "question": row["question"]}
        if with_answers:
            answers = row["answers"]
            qa["answers"] = [
                {"text": t, "answer_start": s}
                for t, s in zip(answers["text"], answers["answer_start"], strict=True)
            ]
        paragraphs.setdefault(row["context"], []).append(qa)
    doc = {
        "version": "1.1",
        "data": [
            {
                "title": "shifted",
                "paragraphs": [{"context": c, "qas": q} for c, q in paragraphs.items()],
            }
        ],
    }
    path.write_text(json.dumps(doc))
    return path


def write_jsonl(path: Path, examples, *, with_answers: bool = True) -> Path:
    with open(path, "w") as f:
        for row in examples:
            record = {"id": row["id"], "question": row["question"], "context": row["context"]}
            if with_answers:
                record["answers"] = row["answers"]
            f.write(json.dumps(record) + "\n")
    return path


SLICES = [
    *(f"{{_target_:{target}}}" for target in BUILTIN_SLICE_TARGETS),
    "{_target_:tests.evaluation.user_slices.QuestionLength,short_words:6}",
]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sets")
    shifted = make_synthetic_squad(30, seed=71, id_prefix="shift")
    flat = make_synthetic_squad(24, seed=72, id_prefix="flat", unanswerable_fraction=0.25)
    return {
        "shifted": write_squad_json(root / "shifted.json", shifted),
        "flat_v2": write_jsonl(root / "flat.jsonl", flat),
        "unlabelled_json": write_squad_json(root / "test.json", shifted, with_answers=False),
        "unlabelled_jsonl": write_jsonl(root / "test.jsonl", flat, with_answers=False),
    }


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_bert_dir, files) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("train") / "run"
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "trainer=cpu",
            "trainer.precision=32-true",  # fp32: the checks compare floats exactly
            "trainer.max_epochs=1",
            "logger=wandb",
            f"+data.eval_sets.shifted={files['shifted']}",
            f"+data.eval_sets.flat={{file:{files['flat_v2']},version_2:true}}",
        ],
        run_dir,
    )
    return run_dir, proc.stdout + proc.stderr


def test_training_scores_every_set_with_intervals_in_every_output(run) -> None:
    run_dir, console = run
    metrics = json.loads((run_dir / "metrics.json").read_text())
    sets = metrics["sets"]
    assert list(sets) == ["validation", "shifted", "flat"]
    assert metrics["f1"] == sets["validation"]["scores"]["f1"]  # flat keys: the validation set
    assert sets["shifted"]["scores"]["total"] == 30 and sets["flat"]["scores"]["total"] == 24
    assert not sets["shifted"]["version_2"] and sets["flat"]["version_2"]
    assert "HasAns_f1" in sets["flat"]["intervals"] and "NoAns_f1" in sets["flat"]["scores"]
    for name, entry in sets.items():
        low, high = entry["intervals"]["f1"]
        assert low <= entry["scores"]["f1"] <= high, name
        for family, labels in entry["slices"].items():
            assert sum(s["count"] for s in labels.values()) == entry["scores"]["total"], family
        folder = run_dir if name == "validation" else run_dir / "eval" / name
        records = [
            json.loads(line) for line in (folder / "per_question.jsonl").read_text().splitlines()
        ]
        assert len(records) == entry["scores"]["total"]
        mean_f1 = sum(r["f1"] for r in records) / len(records)
        assert mean_f1 == pytest.approx(entry["scores"]["f1"])
        predictions = json.loads((folder / "predictions.json").read_text())
        assert predictions == {r["id"]: r["prediction"] for r in records}
        assert (folder / "slices.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"{name}: EM {entry['scores']['exact']:.2f} [" in console
    assert "├── data" in console and "doc_stride: 32" in console  # the config tree at start
    assert (run_dir / "eval" / "flat" / "null_odds.json").is_file()
    assert not (run_dir / "eval" / "shifted" / "null_odds.json").exists()

    with open(run_dir / "csv" / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    last = {k: v for row in rows for k, v in row.items() if v}
    for key in ("eval/shifted/f1", "eval/shifted/f1_ci_low", "eval/flat/HasAns_f1_ci_high"):
        assert key in last, key
    assert float(last["eval/shifted/f1"]) == pytest.approx(sets["shifted"]["scores"]["f1"])
    # extra sets are scored once, with the best checkpoint, not every epoch
    assert sum(1 for row in rows if row.get("eval/shifted/f1")) == 1

    summary = wandb_summary(run_dir)["summary"]
    for name, prefix in (("validation", "val"), ("shifted", "eval/shifted"), ("flat", "eval/flat")):
        selective = sets[name]["selective"]  # every set a model scored: selective answering
        for key in ("aurc", "coverage_at_80", "coverage_at_90", "ece"):
            assert summary[f"{prefix}/{key}"] == pytest.approx(selective[key]), (name, key)
        assert summary[f"{prefix}/aurc_ci_low"] == pytest.approx(selective["aurc_ci"][0])
        assert float(last[f"{prefix}/aurc"]) == pytest.approx(selective["aurc"])
        assert summary[f"{prefix}/selective"]["_type"] == "images/separated", name
        folder = run_dir if name == "validation" else run_dir / "eval" / name
        assert (folder / "selective.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        records = [json.loads(x) for x in (folder / "per_question.jsonl").read_text().splitlines()]
        assert all(0.0 <= r["confidence"] <= 1.0 for r in records), name
    assert summary["eval/shifted/f1"] == pytest.approx(sets["shifted"]["scores"]["f1"])
    assert summary["eval/flat/f1_ci_high"] == pytest.approx(sets["flat"]["intervals"]["f1"][1])
    assert summary["val/f1_ci_low"] == pytest.approx(sets["validation"]["intervals"]["f1"][0])


def test_the_run_folders_files_are_named_on_a_page(run) -> None:
    check_run_files_documented(run[0])  # eval/<name>/ of a v1 and a v2 set


def test_eval_scores_sets_alone_as_training_did(run, files, tmp_path) -> None:
    run_dir, _ = run
    out = tmp_path / "eval"
    proc = run_entry(
        "eval.py",
        [
            f"model.name_or_path={run_dir / 'best_model'}",
            "data=squad_json",
            *SMALL_DATA[3:5],
            f"+data.eval_sets.shifted={files['shifted']}",
            "extras.print_config=false",
            # the built-ins and a researcher's own family (tests/evaluation/user_slices.py)
            f"evaluation.slices=[{','.join(SLICES)}]",
        ],
        out,
    )
    assert "├── data" not in proc.stdout + proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert list(metrics["sets"]) == ["shifted"]
    trained = json.loads((run_dir / "metrics.json").read_text())["sets"]["shifted"]
    assert metrics["sets"]["shifted"]["scores"] == trained["scores"]
    assert metrics["sets"]["shifted"]["intervals"] == trained["intervals"]
    slices = metrics["sets"]["shifted"]["slices"]
    assert list(slices) == [*trained["slices"], "question_length"]
    assert {k: v for k, v in slices.items() if k in trained["slices"]} == trained["slices"]
    assert sum(s["count"] for s in slices["question_length"].values()) == 30
    records = (out / "eval" / "shifted" / "per_question.jsonl").read_text().splitlines()
    assert all(json.loads(line)["question_length"] in ("short", "long") for line in records)
    assert json.loads((out / "eval" / "shifted" / "predictions.json").read_text()) == json.loads(
        (run_dir / "eval" / "shifted" / "predictions.json").read_text()
    )


@pytest.mark.parametrize(
    ("which", "scored_as", "v2"),
    [
        pytest.param("unlabelled_json", "shifted", False, marks=pytest.mark.slow),  # ~11 s
        ("unlabelled_jsonl", "flat", True),
    ],
)
def test_predict_answers_an_unlabelled_file(run, files, tmp_path, which, scored_as, v2) -> None:
    """The same questions without answers get the answers training gave them when scored."""
    run_dir, _ = run
    out = tmp_path / "predict"
    proc = run_entry(
        "predict.py",
        [
            f"model.name_or_path={run_dir / 'best_model'}",
            f"data.predict_file={files[which]}",
            f"data.version_2={str(v2).lower()}",
            *SMALL_DATA[3:5],
        ],
        out,
    )
    predictions = json.loads((out / "predictions.json").read_text())
    scored = json.loads((run_dir / "eval" / scored_as / "predictions.json").read_text())
    assert predictions == scored and len(predictions) > 0
    nbest = json.loads((out / "nbest_predictions.json").read_text())
    assert all(nbest[k][0]["text"] == predictions[k] for k in predictions if predictions[k])
    assert (out / "null_odds.json").is_file() == v2
    assert not (out / "metrics.json").exists() and not (out / "per_question.jsonl").exists()
    console = proc.stdout + proc.stderr
    assert str(out / "predictions.json") in console
    last = [line for line in console.splitlines() if "features/s" in line][-1]
    assert " features in " in last


def test_predict_checks_records_and_names_the_file(run, tmp_path) -> None:
    run_dir, _ = run
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"id": "a", "question": "Who?", "context": "Ann."})
        + "\n"
        + json.dumps({"id": "a", "question": "Where?", "context": "Here."})
        + "\n"
    )
    proc = run_entry(
        "predict.py",
        [f"model.name_or_path={run_dir / 'best_model'}", f"data.predict_file={bad}"],
        tmp_path / "out",
        check=False,
    )
    assert proc.returncode == 1
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "bad.jsonl" in line and "duplicated" in line
    assert "Traceback" not in proc.stderr


def test_a_bad_eval_set_fails_before_training(tiny_bert_dir, tmp_path) -> None:
    proc = run_entry(
        "train.py",
        [
            f"model.name_or_path={tiny_bert_dir}",
            *SMALL_DATA,
            "logger=none",
            f"+data.eval_sets.missing={tmp_path / 'nowhere.json'}",
        ],
        tmp_path / "run",
        check=False,
    )
    assert proc.returncode == 1
    (line,) = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert "data.eval_sets.missing" in line and "nowhere.json" in line
    assert not (tmp_path / "run" / "checkpoints").exists()


def read_records(path: Path) -> dict[str, dict]:
    return {(row := json.loads(line))["id"]: row for line in path.read_text().splitlines() if line}


def test_a_predictions_file_is_a_run_that_compare_tests_against_the_trained_one(
    run, tmp_path
) -> None:
    """Any system's answers: the trained run's own, three dropped and four spoiled, scored
    by eval.py with no model, then ranked and paired against the trained run."""
    import hashlib

    from qa_lightning.compare.report import main as compare_main

    run_dir, _ = run
    trained = read_records(run_dir / "per_question.jsonl")
    answers = json.loads((run_dir / "predictions.json").read_text())
    dropped, spoiled = list(answers)[:3], list(answers)[3:7]
    for qid in dropped:
        del answers[qid]
    for qid in spoiled:
        answers[qid] = "zzz qqq"
    preds = tmp_path / "system_preds.json"
    preds.write_text(json.dumps(answers))
    out = tmp_path / "system"
    run_entry(
        "eval.py",
        [
            *SMALL_DATA[:3],  # the same synthetic validation set
            f"predictions_file={preds}",
            "system_name=Spoiled system",
            "extras.print_config=false",
        ],
        out,
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["system"] == "Spoiled system"
    assert metrics["source"]["sha256"] == hashlib.sha256(preds.read_bytes()).hexdigest()
    entry = metrics["sets"]["validation"]
    assert entry["unanswered"] == 3 and "selective" not in entry
    scored = read_records(out / "per_question.jsonl")
    assert set(scored) == set(trained)
    changed = set(dropped) | set(spoiled)
    for qid, record in scored.items():  # the unchanged answers score as they did
        expected = 0.0 if qid in changed else trained[qid]["f1"]
        assert record["f1"] == pytest.approx(expected), qid
    f1 = sum(r["f1"] for r in scored.values()) / len(scored)
    assert entry["scores"]["f1"] == pytest.approx(f1)
    check_run_files_documented(out)

    report = tmp_path / "report"
    compare_main([str(run_dir), str(out), "--out", str(report), "--no-plots"])
    with open(report / "settings.csv") as f:
        rows = {row["rank"]: row for row in csv.DictReader(f)}
    lost = sum(trained[q]["f1"] for q in changed) / len(trained)
    if lost > 0:  # the trained run is best; the system's paired difference is what it lost
        assert float(rows["2"]["f1_diff"]) == pytest.approx(-lost, abs=0.01)
    markdown = (report / "comparison.md").read_text()
    assert "Spoiled system" in markdown
    assert "3 of 40 questions had no prediction" in markdown


@pytest.mark.slow  # ~10 s; test_score_answers checks v2 files against squad_scores in process
def test_a_v2_predictions_file_with_its_null_odds_scores_as_the_model_did(
    run, files, tmp_path
) -> None:
    """The model's own v2 answers and null odds, as files, give the model's official scores
    (the file run's threshold is the official 1.0; every question past the model's 0.0
    already answers "")."""
    run_dir, _ = run
    folder = run_dir / "eval" / "flat"
    out = tmp_path / "flat_system"
    run_entry(
        "eval.py",
        [
            "data=squad_json",  # no validation file: the flat set alone
            f"+data.eval_sets.flat={{file:{files['flat_v2']},version_2:true}}",
            f"predictions_file={folder / 'predictions.json'}",
            f"null_odds_file={folder / 'null_odds.json'}",
            "extras.print_config=false",
        ],
        out,
    )
    metrics = json.loads((out / "metrics.json").read_text())["sets"]["flat"]
    trained = json.loads((run_dir / "metrics.json").read_text())["sets"]["flat"]
    assert metrics["scores"] == trained["scores"]
    assert metrics["intervals"] == trained["intervals"]
    assert metrics["slices"] == {k: v for k, v in trained["slices"].items() if k != "windows"}
    assert "selective" in trained and "selective" not in metrics
