"""The slice plot is a whole PNG or nothing, and leaves no figure or temporary file behind."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.figure import Figure

from qa_lightning.evaluation.slices import slice_labels, slice_scores
from qa_lightning.tracking.slice_plot import plot_slices

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fake_slices(n: int = 400, *, version_2: bool = True) -> dict:
    rng = np.random.default_rng(0)
    stems = ["What is it?", "Who was it?", "When was it?", "How many?", "Name it."]
    questions = [stems[i] for i in rng.integers(0, len(stems), n)]
    golds = [["word " * k] if k else [] for k in rng.choice([0, 1, 2, 4], n)]
    windows = rng.choice([1, 1, 2, 3], n)
    f1 = np.where(rng.random(n) < 0.7, 100.0, rng.uniform(0, 100, n))
    labels = slice_labels(questions, golds, windows, version_2=version_2)
    return slice_scores(labels, np.where(f1 == 100.0, 100.0, 0.0), f1)


@pytest.mark.parametrize(("version_2", "overall_f1"), [(True, 78.4), (False, None)])
def test_writes_a_png_and_nothing_else(tmp_path, version_2, overall_f1):
    path = tmp_path / "plots" / "validation_slices.png"
    written = plot_slices(
        fake_slices(version_2=version_2), path, title="validation", overall_f1=overall_f1
    )
    assert written == path
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert list(path.parent.iterdir()) == [path]  # no temporary file left beside it
    assert plt.get_fignums() == []


def test_more_slices_make_a_taller_picture(tmp_path):
    v1 = plot_slices(fake_slices(version_2=False), tmp_path / "v1.png", title="v1")
    v2 = plot_slices(fake_slices(version_2=True), tmp_path / "v2.png", title="v2")
    v1_height, v2_height = plt.imread(v1).shape[0], plt.imread(v2).shape[0]
    assert v2_height > v1_height


def test_a_failed_save_keeps_the_previous_png_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "slices.png"
    plot_slices(fake_slices(), path, title="first")
    before = path.read_bytes()

    def save_half_then_fail(self, fname, **kwargs):
        fname.write(PNG_SIGNATURE + b"half")
        raise OSError("disk full")

    monkeypatch.setattr(Figure, "savefig", save_half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        plot_slices(fake_slices(), path, title="second")
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]
    assert plt.get_fignums() == []


def test_nothing_to_plot_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_slices({"question_type": {}}, tmp_path / "empty.png", title="empty")
    assert list(tmp_path.iterdir()) == []
