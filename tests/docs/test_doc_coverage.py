"""Every part of the product is named on a hand-written page (docs/writing-docs.md).

The lists come from the repository (tests/docs/coverage.py), so a new config group or entry
point fails here until a page names it. The files a run writes are checked by the tests that
already train a run (tests/cli/), with `coverage.undocumented_run_files`.
"""

from __future__ import annotations

from pathlib import Path

from tests.docs.coverage import (
    config_groups,
    entry_point_is_named,
    entry_points,
    group_is_named,
    hand_written_pages,
    pages_text,
    run_file_names,
    undocumented_run_files,
)
from tests.docs.markdown_blocks import DOCS


def test_every_config_group_is_named_on_a_page() -> None:
    text = pages_text()
    missing = [g for g in config_groups() if not group_is_named(g, text)]
    assert not missing, (
        f"config groups under conf/ that no page of {DOCS} names "
        f"(as `group`, group=..., conf/group/): {missing}"
    )


def test_every_entry_point_is_named_on_a_page() -> None:
    text = pages_text()
    missing = [e for e in entry_points() if not entry_point_is_named(e, text)]
    assert not missing, f"entry points that no page of {DOCS} names: {missing}"


# ------------------------------------------------------------------ the rules themselves


def test_groups_and_entry_points_are_read_from_the_repository(tmp_path: Path) -> None:
    for folder in ("conf/data", "conf/model/head", "conf/hydra/launcher"):
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / "train.py").write_text('@hydra.main(config_path="conf")\ndef main(cfg): ...\n')
    (tmp_path / "helper.py").write_text("def main(): ...\n")
    (tmp_path / "pyproject.toml").write_text('[project.scripts]\nqa-new = "x:main"\n')
    assert config_groups(tmp_path / "conf") == [
        "data",
        "hydra",
        "hydra/launcher",
        "model",
        "model/head",
    ]
    assert entry_points(tmp_path) == ["train.py", "qa-new"]


def test_what_counts_as_naming_a_group_or_an_entry_point() -> None:
    text = (
        "Run `python train.py model/head=mlp`; heads live in conf/hydra/launcher/.\n"
        "The `scheduler` group. metadata=1 and optimizer_groups=llrd.\n"
        "defaults:\n  - override /paths: default\n"
        "See tests/test_eval.py and qa-compare-old.\n"
    )
    named = {
        g: group_is_named(g, text)
        for g in (
            "model/head",
            "model",
            "hydra/launcher",
            "scheduler",
            "data",
            "optimizer",
            "optimizer_groups",
            "paths",
        )
    }
    assert named == {
        "model/head": True,
        "model": False,  # model/head=... names the nested group only
        "hydra/launcher": True,
        "scheduler": True,
        "data": False,  # metadata=1 is not data=
        "optimizer": False,  # optimizer_groups=... is another group
        "optimizer_groups": True,
        "paths": True,
    }
    assert entry_point_is_named("train.py", text)
    assert not entry_point_is_named("eval.py", text)  # only tests/test_eval.py
    assert not entry_point_is_named("qa-compare", text)  # only qa-compare-old


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("x")


def test_run_files_are_listed_generalised_and_matched(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for name in (
        "metrics.json",
        "predictions.json",
        "nbest_predictions.json",
        "csv/metrics.csv",
        ".hydra/config.yaml",
        ".metrics.json-x1y2/part",  # an atomic write in progress: ignored
        "checkpoints/epoch3-step120.ckpt",
        "checkpoints/last.ckpt",
        "eval/new_wiki/predictions.json",
        "eval/new_wiki/null_odds.json",
        "eval/amazon/predictions.json",
        "best_model/config.json",
        "best_model/tokenizer.json",
        "best_model/qa_head.json",
        "wandb/offline-run-1/run.wandb",  # inside wandb/: W&B's own
        "tensorboard/events.out",
    ):
        _touch(run / name)
    assert run_file_names(run) == [
        ".hydra/",
        "best_model/",
        "best_model/save_pretrained",
        "best_model/qa_head.json",
        "checkpoints/",
        "checkpoints/epoch<n>-step<n>.ckpt",
        "checkpoints/last.ckpt",
        "csv/",
        "eval/<name>/",
        "eval/<name>/predictions.json",
        "eval/<name>/null_odds.json",
        "metrics.json",
        "nbest_predictions.json",
        "predictions.json",
        "tensorboard/",
        "wandb/",
    ]
    text = (
        "`metrics.json`, `nbest_predictions.json`, `csv/metrics.csv`, "
        "`runs/<time>/checkpoints/last.ckpt`, `epoch{epoch}-step{step}.ckpt`; `eval/<name>/` "
        "holds the same files. `best_model/` (save_pretrained). wandb/offline-run-*; "
        "my_null_odds.json, data/eval/predictions.json; reads jsonl/tensorboard/parquet\n"
    )
    assert undocumented_run_files(run, text) == [
        ".hydra/",
        "best_model/qa_head.json",
        "eval/<name>/predictions.json",
        "eval/<name>/null_odds.json",  # my_null_odds.json is another name
        "predictions.json",  # only in nbest_predictions.json, data/eval/predictions.json
        "tensorboard/",  # jsonl/tensorboard/parquet is another path
    ]


def test_the_pages_are_the_hand_written_ones(tmp_path: Path) -> None:
    for name in ("index.md", "reference/run-folder.md", "writing-docs.md", "hooks/notes.md"):
        _touch(tmp_path / name)
    assert [p.relative_to(tmp_path).as_posix() for p in hand_written_pages(tmp_path)] == [
        "index.md",
        "reference/run-folder.md",
    ]
