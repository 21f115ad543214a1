"""A saved frozen-head model (best_model/ of a model.head run) given as model.name_or_path."""

from __future__ import annotations

import logging
from pathlib import Path

from hydra import compose, initialize_config_dir

from qa_lightning.cli.common import make_module
from qa_lightning.config import register_configs
from qa_lightning.models.encoder_head import parameter_counts
from qa_lightning.models.head_module import HeadQAModule

CONF = Path(__file__).resolve().parents[2] / "conf"
register_configs()


def saved_head_dir(tmp_path: Path, tiny_bert_dir: Path) -> Path:
    module = HeadQAModule(str(tiny_bert_dir), head="linear", freeze="all")
    module.save_pretrained(tmp_path / "best_model")
    return tmp_path / "best_model"


def cfg_for(model_dir: Path, *overrides: str):
    paths = [f"paths.root_dir={CONF.parent}", "paths.output_dir=/tmp/qa-lightning-test"]
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(
            config_name="train",
            overrides=["data=synthetic", f"model.name_or_path={model_dir}", *overrides, *paths],
        )


def test_model_head_null_fine_tunes_a_saved_head_with_its_encoder_and_says_so(
    tmp_path, tiny_bert_dir, caplog
):
    """It once trained the head alone on a frozen encoder, silently."""
    saved = saved_head_dir(tmp_path, tiny_bert_dir)
    with caplog.at_level(logging.INFO, logger="qa_lightning.cli.common"):
        module = make_module(cfg_for(saved), training=True)
    assert isinstance(module, HeadQAModule)
    assert module.hparams.head == {
        "_target_": "qa_lightning.models.heads.LinearHead",
        "dropout": 0.1,
    }
    assert parameter_counts(module)["frozen"] == 0
    assert module.encoder_states() is None  # a trainable encoder has no fixed outputs
    (line,) = [r.getMessage() for r in caplog.records if "holds a saved linear head" in r.message]
    assert "model/head=linear model.freeze=all" in line


def test_the_head_alone_trains_when_asked(tmp_path, tiny_bert_dir):
    saved = saved_head_dir(tmp_path, tiny_bert_dir)
    module = make_module(cfg_for(saved, "model.head=linear", "model.freeze=all"), training=True)
    counts = parameter_counts(module)
    hidden = module.model.encoder.config.hidden_size
    assert counts["frozen"] > 0 and counts["trainable"] == 2 * hidden + 2  # Linear(hidden, 2)


def test_scoring_a_saved_head_keeps_its_encoder_frozen(tmp_path, tiny_bert_dir):
    module = make_module(cfg_for(saved_head_dir(tmp_path, tiny_bert_dir)), training=False)
    hidden = module.model.encoder.config.hidden_size
    assert parameter_counts(module)["trainable"] == 2 * hidden + 2
    assert module.encoder_states() is not None


def test_the_pipeline_answers_with_the_saved_head(tmp_path, tiny_bert_dir, wordpiece_tokenizer):
    """transformers loads a saved head folder as AutoModelForQuestionAnswering with a new,
    untrained QA layer; the pipeline once answered with it. Its logits are now the head's."""
    import torch

    from qa_lightning.inference import qa_pipeline

    torch.manual_seed(3)
    module = HeadQAModule(str(tiny_bert_dir), head="mlp", head_args={"hidden_size": 8})
    module.save_pretrained(tmp_path / "best_model")
    wordpiece_tokenizer.save_pretrained(tmp_path / "best_model")
    pipe = qa_pipeline(str(tmp_path / "best_model"), device=-1)
    question, context = "Which city?", "The river Ombra flows through the city of Velden. " * 6
    inputs = pipe.preprocess(
        {"question": question, "context": context}, max_length=48, doc_stride=16
    )
    module.eval()
    with torch.no_grad():
        expected = module.model(**inputs["batch"])
    got = pipe._forward(inputs)
    torch.testing.assert_close(got["start_logits"], expected.start_logits)
    torch.testing.assert_close(got["end_logits"], expected.end_logits)
    out = pipe(question=question, context=context, max_length=48, doc_stride=16)
    assert context[out["start"] : out["end"]] == out["answer"]
