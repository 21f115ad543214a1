"""The run folder writer: a mid-training validation writes the scores, answers and records;
the slow n-best lists and plots come with the final evaluation."""

from __future__ import annotations

import json
from types import SimpleNamespace

from pytorch_lightning.trainer.states import TrainerFn

from qa_lightning.evaluation.evaluator import score_decoded
from qa_lightning.evaluation.postprocessing import Postprocessed
from qa_lightning.tracking.run_folder import RunFolderWriter
from tests.evaluation.test_evaluator import examples_with_answers


def result():
    ds = examples_with_answers(4)
    predictions = {"q0": "Answer 0.", "q1": "the answer", "q2": "", "q3": "nothing"}
    nbest = {
        k: [{"text": v, "start": 0, "end": len(v), "probability": 1.0}]
        for k, v in predictions.items()
    }
    outputs = Postprocessed(predictions=predictions, nbest=nbest)
    return score_decoded(
        "validation", ds, [1] * len(ds), outputs, version_2=False, null_score_diff_threshold=0
    )


def trainer(fn: TrainerFn) -> SimpleNamespace:
    return SimpleNamespace(
        is_global_zero=True, state=SimpleNamespace(fn=fn), current_epoch=0, global_step=3
    )


def test_mid_training_writes_progress_and_the_final_evaluation_everything(tmp_path) -> None:
    writer = RunFolderWriter(tmp_path)
    writer([result()], trainer(TrainerFn.FITTING))
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "training"
    assert (tmp_path / "predictions.json").is_file() and (tmp_path / "per_question.jsonl").is_file()
    for slow in ("nbest_predictions.json", "slices.png"):
        assert not (tmp_path / slow).exists(), slow
    writer([result()], trainer(TrainerFn.VALIDATING))  # the final evaluation (or eval.py)
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "completed"
    assert json.loads((tmp_path / "nbest_predictions.json").read_text())["q0"][0]["text"]
    assert (tmp_path / "slices.png").is_file()
