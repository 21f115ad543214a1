"""The model card says how its weights were made when that was not plain fine-tuning."""

from __future__ import annotations

import copy

from qa_lightning.tracking.model_card import model_card


def config(**model) -> dict:
    return {
        "model": {"name_or_path": "bundled:minilm", "head": None, "freeze": "none", **model},
        "data": {"source": "squad_json", "max_length": 256, "doc_stride": 96, "batch_size": 16},
        "trainer": {"precision": "32-true", "max_epochs": 2},
        "optimizer": {"_target_": "torch.optim.AdamW", "lr": 5e-5},
    }


def card(cfg: dict) -> str:
    return model_card(cfg, None, name="m", overrides=[], unscored="x.ckpt")


def test_a_distilled_student_names_its_layers_teacher_and_loss() -> None:
    loss = {"_target_": "qa_lightning.models.distillation.DistillationLoss", "alpha": 0.5}
    text = card(
        config(
            name_or_path="runs/teacher/best_model",
            student_layers=[0, 2, 4],
            teacher="runs/teacher/best_model",
            loss={**loss, "temperature": 2.0},
        )
    )
    assert (
        "- student: encoder layers [0, 2, 4] of `runs/teacher/best_model`, with its "
        "embeddings and span layer" in text
    )
    assert (
        "- distilled from `runs/teacher/best_model` (loss "
        "`qa_lightning.models.distillation.DistillationLoss`: alpha 0.5, temperature 2.0)"
    ) in text


def test_plain_fine_tuning_has_no_method_lines() -> None:
    plain = config(adapter={"rank": 0, "alpha": 16.0}, student_layers=None, teacher=None)
    text = card(plain)
    for marker in ("- student:", "- distilled from", "- LoRA adapters"):
        assert marker not in text
    adapted = copy.deepcopy(plain)
    adapted["model"]["adapter"]["rank"] = 8
    assert "- LoRA adapters: rank 8, alpha 16.0" in card(adapted)
