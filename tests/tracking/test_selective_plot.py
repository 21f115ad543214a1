"""The selective-answering plot is a whole PNG or nothing, and leaves no figure or temporary
file behind; the SQuAD 2.0 panel appears only with a threshold curve."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from qa_lightning.evaluation.selective import null_threshold_curve
from qa_lightning.tracking.selective_plot import plot_selective

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fake_reader(n: int = 600) -> dict:
    rng = np.random.default_rng(0)
    correct = rng.random(n) < 0.7
    confidence = 1 / (1 + np.exp(-(np.where(correct, 2.0, 0.3) + rng.normal(0, 1, n))))
    has_answer = rng.random(n) < 0.5
    null_odds = np.where(has_answer, -1.0, 1.0) + rng.normal(0, 2, n)
    span_f1 = np.where(has_answer, rng.beta(4, 1.2, n), 0.0)
    curve = null_threshold_curve(null_odds, has_answer, span_f1)
    return {"confidence": confidence, "correct": correct, "curve": curve}


@pytest.mark.parametrize("with_threshold", [True, False])
def test_writes_a_png_and_nothing_else(tmp_path, with_threshold):
    reader = fake_reader()
    path = tmp_path / "plots" / "validation_selective.png"
    extra = {"threshold_curve": reader["curve"], "chosen_threshold": 0.0} if with_threshold else {}
    written = plot_selective(
        path,
        title="validation",
        confidence=reader["confidence"],
        correct=reader["correct"],
        **extra,
    )
    assert written == path
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 20_000
    assert list(path.parent.iterdir()) == [path]  # no temporary file left beside it
    assert plt.get_fignums() == []


def test_the_threshold_panel_makes_a_wider_picture(tmp_path):
    reader = fake_reader()
    common = {"title": "t", "confidence": reader["confidence"], "correct": reader["correct"]}
    v1 = plot_selective(tmp_path / "v1.png", **common)
    v2 = plot_selective(tmp_path / "v2.png", threshold_curve=reader["curve"], **common)
    v1_shape, v2_shape = plt.imread(v1).shape, plt.imread(v2).shape
    assert v1_shape[0] == v2_shape[0] and v2_shape[1] > v1_shape[1] * 1.3


def test_unreachable_accuracy_and_a_set_without_no_answer_questions_still_plot(tmp_path):
    # every answer wrong: neither 80% nor 90% accuracy is ever reached, ECE is large; the
    # threshold curve has no NoAns line (all nan)
    curve = null_threshold_curve([0.1, 0.5, 0.9], [True, True, True], [0.0, 1.0, 0.5])
    path = plot_selective(
        tmp_path / "odd.png",
        title="odd",
        confidence=[0.9, 0.9, 0.2],
        correct=[False, False, False],
        threshold_curve=curve,
        chosen_threshold=3.0,  # outside the odds' range: the axis widens to show it
    )
    assert path.read_bytes().startswith(PNG_SIGNATURE)
    assert plt.get_fignums() == []


def test_a_failed_save_keeps_the_previous_png_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    reader = fake_reader()
    common = {"confidence": reader["confidence"], "correct": reader["correct"]}
    path = tmp_path / "selective.png"
    plot_selective(path, title="first", **common)
    before = path.read_bytes()

    def save_half_then_fail(self, fname, **kwargs):
        fname.write(PNG_SIGNATURE + b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        plot_selective(path, title="second", **common)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    assert plt.get_fignums() == []


def test_nothing_to_plot_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_selective(tmp_path / "empty.png", title="empty", confidence=[], correct=[])
    assert list(tmp_path.iterdir()) == []
    assert plt.get_fignums() == []
