"""Distillation's parts: the loss against hand-computed values, and a student made from its
teacher's layers."""

from __future__ import annotations

import json
import math

import pytest
import torch
from transformers import AutoModelForQuestionAnswering

from qa_lightning.errors import ConfigError
from qa_lightning.models.distillation import DistillationLoss, encoder_layers, keep_layers
from qa_lightning.models.limits import check_student_layers
from qa_lightning.models.losses import SpanCrossEntropy
from qa_lightning.models.qa_module import QAModule
from tests.cli.test_train_eval import SMALL_DATA, run_entry


def span_batch(seed: int = 0, *, width: int = 7) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    mask = torch.ones(3, width, dtype=torch.long)
    mask[1, 5:] = 0  # a shorter window: its last two positions are padding
    return {
        "start_positions": torch.tensor([1, 3, width + 2]),  # the last: not in this window
        "end_positions": torch.tensor([2, 4, width + 2]),
        "attention_mask": mask,
        "teacher_start_logits": torch.randn(3, width, generator=generator),
        "teacher_end_logits": torch.randn(3, width, generator=generator),
    }


def test_alpha_0_is_the_span_cross_entropy_exactly() -> None:
    batch = span_batch()
    start, end = torch.randn(3, 7), torch.randn(3, 7)
    plain = SpanCrossEntropy()(start, end, batch)
    assert torch.equal(DistillationLoss(alpha=0.0)(start, end, batch), plain)
    del batch["teacher_start_logits"]  # no teacher needed at alpha 0
    assert torch.equal(DistillationLoss(alpha=0.0)(start, end, batch), plain)


def test_a_student_equal_to_its_teacher_has_no_soft_loss() -> None:
    batch = span_batch(1)
    loss = DistillationLoss(alpha=1.0, temperature=3.0)
    value = loss(batch["teacher_start_logits"], batch["teacher_end_logits"], batch)
    assert abs(float(value)) < 1e-6


def test_the_soft_term_against_a_hand_computed_kl() -> None:
    """One window of 3 positions. Teacher logits log(1), log(2), log(3) at T=1 give
    p = (1/6, 2/6, 3/6); a uniform student gives q = 1/3 each; KL(p || q) =
    sum p log(3 p). Start and end alike, alpha=1, T^2 = 1: the loss is that KL."""
    teacher = torch.log(torch.tensor([[1.0, 2.0, 3.0]]))
    batch = {"teacher_start_logits": teacher, "teacher_end_logits": teacher}
    student = torch.zeros(1, 3)
    p = [1 / 6, 2 / 6, 3 / 6]
    expected = sum(x * math.log(3 * x) for x in p)
    value = DistillationLoss(alpha=1.0, temperature=1.0)(student, student, batch)
    assert float(value) == pytest.approx(expected, rel=1e-5)  # float32
    # T=2: both sides' logits halved (the student's stay 0), and the T^2 = 4 factor
    p2 = torch.softmax(teacher[0] / 2, dim=0).tolist()
    expected2 = 4 * sum(x * math.log(3 * x) for x in p2)
    value2 = DistillationLoss(alpha=1.0, temperature=2.0)(student, student, batch)
    assert float(value2) == pytest.approx(expected2, rel=1e-5)
    # alpha mixes the two terms linearly
    batch.update(start_positions=torch.tensor([0]), end_positions=torch.tensor([2]))
    hard = float(SpanCrossEntropy()(student, student, batch))
    mixed = DistillationLoss(alpha=0.25, temperature=1.0)(student, student, batch)
    assert float(mixed) == pytest.approx(0.25 * expected + 0.75 * hard, rel=1e-5)


def test_padding_positions_take_no_part_in_the_soft_term() -> None:
    """(The hard term is transformers' cross-entropy, padding included, as before.)"""
    batch = span_batch(2)
    start, end = torch.randn(3, 7), torch.randn(3, 7)
    loss = DistillationLoss(alpha=1.0, temperature=2.0)
    before = loss(start, end, batch)
    changed = {k: v.clone() for k, v in batch.items()}
    changed["teacher_start_logits"][1, 5:] = 50.0  # padding of window 1
    start2 = start.clone()
    start2[1, 5:] = -50.0
    assert torch.allclose(loss(start2, end, changed), before)


def test_a_missing_teacher_is_named() -> None:
    batch = span_batch()
    del batch["teacher_end_logits"]
    with pytest.raises(KeyError, match="teacher_end_logits missing"):
        DistillationLoss(alpha=0.5)(torch.randn(3, 7), torch.randn(3, 7), batch)
    with pytest.raises(ValueError, match="alpha=1.5"):
        DistillationLoss(alpha=1.5)


def test_a_student_keeps_its_teachers_chosen_layers(tiny_bert_dir, tmp_path) -> None:
    teacher = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir)
    student = keep_layers(AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir), [1])
    assert student.config.num_hidden_layers == 1 and len(encoder_layers(student)) == 1
    kept = encoder_layers(student)[0].state_dict()
    for name, tensor in encoder_layers(teacher)[1].state_dict().items():
        assert torch.equal(kept[name], tensor), name
    for name in ("bert.embeddings.word_embeddings.weight", "qa_outputs.weight"):
        assert torch.equal(student.state_dict()[name], teacher.state_dict()[name])
    student.save_pretrained(tmp_path / "student")  # a QA model like any other
    reloaded = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "student")
    assert len(encoder_layers(reloaded)) == 1
    with pytest.raises(ValueError, match="student_layers"):
        keep_layers(AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir), [1, 0])


def test_the_module_builds_the_student_and_a_checkpoint_rebuilds_it(tiny_bert_dir) -> None:
    module = QAModule(str(tiny_bert_dir), student_layers=[0])
    assert len(encoder_layers(module.model)) == 1
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    again = QAModule(
        str(tiny_bert_dir), student_layers=[0], model_config=checkpoint["model_config"]
    )
    assert len(encoder_layers(again.model)) == 1
    again.load_state_dict(module.state_dict())  # the same architecture, key for key


@pytest.mark.parametrize("layers", [[], [2, 1], [-1, 0], [0, 0], ["a"], [0, 2]])
def test_student_layers_are_checked_against_the_teacher(layers) -> None:
    with pytest.raises(ConfigError, match=r"model.student_layers=.*from 0 to 1"):
        check_student_layers(layers, 2)


@pytest.mark.slow  # ~15 s; the module test above holds the student's construction
def test_train_py_distils_into_a_student(tmp_path, tiny_bert_dir) -> None:
    """A one-layer student of the tiny teacher trained by train.py with the distillation
    loss at alpha 0 (no teacher logits in the batch yet): it trains, saves and reloads."""
    run_dir = tmp_path / "run"
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *SMALL_DATA,
        "trainer=cpu",
        "trainer.max_epochs=1",
        "model.student_layers=[1]",
        "+model.loss={_target_:qa_lightning.models.distillation.DistillationLoss,alpha:0.0}",
    ]
    run_entry("train.py", overrides, run_dir)
    config = json.loads((run_dir / "best_model" / "config.json").read_text())
    assert config["num_hidden_layers"] == 1
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["status"] == "completed" and metrics["total"] == 40


def test_train_batches_carry_the_teachers_cached_logits(
    tmp_path, tiny_bert_dir, wordpiece_tokenizer
) -> None:
    """The datamodule scores every training window with the teacher once (float32, keyed by
    its weights): each batch's teacher columns equal the teacher's own output on that batch,
    zero past each window's length; a second datamodule reads the same entry."""
    from qa_lightning.data.datamodule import SquadDataModule
    from qa_lightning.models.distillation import TeacherLogits
    from tests.data.test_datamodule import data_cfg

    teacher_model = AutoModelForQuestionAnswering.from_pretrained(tiny_bert_dir).eval()
    cfg = data_cfg(tmp_path, encoder_cache_dir=str(tmp_path / "enc"))
    datamodule = SquadDataModule(cfg, wordpiece_tokenizer, seed=1)
    datamodule.use_teacher(TeacherLogits(teacher_model))
    datamodule.prepare_data()
    datamodule.setup("fit")
    checked = 0
    for batch in datamodule.train_dataloader():
        inputs = {
            k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in batch
        }
        with torch.no_grad():
            out = teacher_model(**inputs)
        mask = batch["attention_mask"].bool()
        for column, logits in (
            ("teacher_start_logits", out.start_logits),
            ("teacher_end_logits", out.end_logits),
        ):
            cached = batch[column]
            assert cached.dtype == torch.float32 and cached.shape == logits.shape
            torch.testing.assert_close(cached[mask], logits[mask], atol=1e-5, rtol=1e-5)
            assert torch.all(cached[~mask] == 0)
        checked += len(batch["input_ids"])
    assert checked == len(datamodule.train_features)
    entries = [p for p in (tmp_path / "enc").iterdir() if not p.name.startswith(".")]
    assert (
        len(entries) == 1
        and json.loads((entries[0] / "meta.json").read_text())["dtype"] == "float32"
    )
    again = SquadDataModule(cfg, wordpiece_tokenizer, seed=1)
    again.use_teacher(TeacherLogits(teacher_model))
    again.prepare_data()
    again.setup("fit")
    assert again.teacher_logits().path == entries[0]


@pytest.mark.slow  # ~25 s: two trainings
def test_alpha_0_with_a_teacher_trains_exactly_as_without_one(tmp_path, tiny_bert_dir) -> None:
    """The teacher's cache is built without moving the random state: with alpha=0 a run
    with a teacher ends with the answers of a run without one."""
    common = [
        f"model.name_or_path={tiny_bert_dir}",
        *SMALL_DATA,
        "trainer=cpu",
        "trainer.precision=32-true",
        "trainer.max_epochs=1",
        "+model.loss={_target_:qa_lightning.models.distillation.DistillationLoss,alpha:0.0}",
    ]
    run_entry("train.py", common, tmp_path / "plain")
    run_entry("train.py", [*common, f"model.teacher={tiny_bert_dir}"], tmp_path / "taught")
    plain = json.loads((tmp_path / "plain" / "predictions.json").read_text())
    taught = json.loads((tmp_path / "taught" / "predictions.json").read_text())
    assert taught == plain
    # with alpha > 0 the teacher changes what is learned
    run_entry(
        "train.py",
        [
            *common[:-1],
            "+model.loss={_target_:qa_lightning.models.distillation.DistillationLoss,alpha:0.9}",
            f"model.teacher={tiny_bert_dir}",
        ],
        tmp_path / "distilled",
    )
    distilled = json.loads((tmp_path / "distilled" / "predictions.json").read_text())
    assert distilled != plain  # the teacher's logits reached the loss


def test_a_teacher_must_be_a_saved_folder_with_the_runs_tokenizer(
    tmp_path, tiny_bert_dir, tiny_roberta_dir, wordpiece_tokenizer
) -> None:
    from qa_lightning.cli.train import check_teacher

    check_teacher(str(tiny_bert_dir), wordpiece_tokenizer)  # the same tokenizer: fine
    with pytest.raises(ConfigError, match="tokenizes otherwise"):
        check_teacher(str(tiny_roberta_dir), wordpiece_tokenizer)
    with pytest.raises(ConfigError, match="not a saved QA model folder"):
        check_teacher(str(tmp_path), wordpiece_tokenizer)
