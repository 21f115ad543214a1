"""The predictions-file run's checks: the files' format and the config around them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from qa_lightning.cli.checks import check_predictions_source
from qa_lightning.cli.score_file import read_null_odds_file, read_predictions_file
from qa_lightning.errors import ConfigError


def write(path: Path, payload: object) -> str:
    path.write_text(json.dumps(payload))
    return str(path)


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (["a", "b"], "holds a JSON list; expected the official format"),
        ({"q1": "Paris", "q2": ["Paris"]}, "the answer of question 'q2' is ['Paris']"),
        ({"q1": None}, "the answer of question 'q1' is None"),
    ],
)
def test_a_predictions_file_of_the_wrong_shape_is_refused(tmp_path, payload, expected) -> None:
    path = write(tmp_path / "preds.json", payload)
    with pytest.raises(ConfigError, match="predictions_file=.*preds.json") as err:
        read_predictions_file(path)
    assert expected in str(err.value)


def test_a_predictions_file_that_is_not_json_names_the_key(tmp_path) -> None:
    path = tmp_path / "preds.json"
    path.write_text('{"q1": "Paris",}')
    with pytest.raises(ConfigError, match=r"predictions_file=.* is not a JSON file"):
        read_predictions_file(str(path))


def test_null_odds_must_be_finite_numbers(tmp_path) -> None:
    assert read_null_odds_file(write(tmp_path / "na.json", {"q1": 0.2, "q2": 1})) == {
        "q1": 0.2,
        "q2": 1.0,
    }
    for bad in ("0.5", True, None):
        path = write(tmp_path / "na.json", {"q1": bad})
        with pytest.raises(ConfigError, match="null_odds_file=.*'q1'.*finite number"):
            read_null_odds_file(path)
    path = tmp_path / "na.json"
    path.write_text('{"q1": NaN}')  # json.loads accepts it; the check does not
    with pytest.raises(ConfigError, match="finite number"):
        read_null_odds_file(str(path))


def test_the_config_around_a_predictions_file(tmp_path) -> None:
    preds = write(tmp_path / "preds.json", {"q1": "Paris"})

    def check(**values: object) -> None:
        base = {"ckpt_path": None, "backend": "torch", "predictions_file": None}
        check_predictions_source(OmegaConf.create({**base, "null_odds_file": None, **values}))

    check(predictions_file=preds)  # fine
    check()  # a model's run: nothing to check
    with pytest.raises(ConfigError, match="give one of them"):
        check(predictions_file=preds, ckpt_path="run/last.ckpt")
    with pytest.raises(ConfigError, match="null_odds_file=na.json needs predictions_file"):
        check(null_odds_file="na.json")
    with pytest.raises(ConfigError, match="drop backend"):
        check(predictions_file=preds, backend="onnx")
    with pytest.raises(ConfigError, match=r"null_odds_file=.*missing.json does not exist"):
        check(predictions_file=preds, null_odds_file=str(tmp_path / "missing.json"))
