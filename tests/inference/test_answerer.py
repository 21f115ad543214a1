"""The Answerer answers as the pipeline (and so as evaluation) does, in any batch size."""

from __future__ import annotations

import json

import pytest

from qa_lightning.errors import ConfigError
from qa_lightning.inference import Answerer, DecodingSettings, qa_pipeline
from tests.fixtures import WORDS, make_context


def _items(n: int) -> list[dict]:
    # contexts of very different lengths: some need several windows at max_length 64
    return [
        {
            "question": f"what is {WORDS[i % len(WORDS)]} {WORDS[(3 * i) % len(WORDS)]}?",
            "context": make_context(5 + 17 * i, seed=i),
        }
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def small_windows(tiny_bert_dir, tmp_path_factory):
    """The tiny model's folder with decoding settings that split long contexts."""
    import shutil

    folder = tmp_path_factory.mktemp("answerer") / "model"
    shutil.copytree(tiny_bert_dir, folder)
    DecodingSettings(max_length=64, doc_stride=16, max_answer_length=8).write(folder)
    return folder


def test_answers_equal_the_pipelines_in_any_batch_size_with_the_folders_decoding(
    small_windows,
) -> None:
    answerer = Answerer.from_folder(str(small_windows))
    assert answerer.settings.max_length == 64  # read from qa_decoding.json
    pipe = qa_pipeline(str(small_windows))
    items = _items(7)
    # the pipeline reads the same qa_decoding.json (its defaults are 384/128/30)
    expected = [pipe(question=i["question"], context=i["context"]) for i in items]
    for batch_size in (1, 3, 64):
        got = answerer.answer(items, batch_size=batch_size)
        assert [g["answer"] for g in got] == [e["answer"] for e in expected]
        assert [(g["start"], g["end"]) for g in got] == [(e["start"], e["end"]) for e in expected]
        for g, e, item in zip(got, expected, items, strict=True):
            assert g["score"] == pytest.approx(e["score"], abs=1e-5)
            assert item["context"][g["start"] : g["end"]] == g["answer"]


def test_an_unknown_decoding_setting_is_one_line(tmp_path) -> None:
    (tmp_path / "qa_decoding.json").write_text(json.dumps({"max_lenght": 64}))
    with pytest.raises(ConfigError, match="max_lenght"):
        DecodingSettings.of_folder(tmp_path)


def test_a_saved_head_answers_from_states_rounded_as_its_encoder_cache_stored_them(
    tiny_bert_dir, tmp_path
) -> None:
    """A frozen-head run is scored from float16 cached states: the folder's Answerer (and
    pipeline) round the encoder's states the same way, so the head gets the logits it was
    scored with; without the setting they differ (a frozen-head demo export answered 37 of
    40 questions as its predictions.json)."""
    import torch

    from qa_lightning.models.head_module import HeadQAModule
    from qa_lightning.models.loading import load_tokenizer

    module = HeadQAModule(str(tiny_bert_dir), head="mlp", freeze="all").eval()
    module.save_pretrained(tmp_path)
    tokenizer = load_tokenizer(str(tiny_bert_dir))
    tokenizer.save_pretrained(tmp_path)
    batch = tokenizer(["who is it?"] * 2, [make_context(40), make_context(25)], padding=True)
    batch = batch.convert_to_tensors("pt")
    with torch.no_grad():
        cached = module.model.encode(**batch).to(torch.float16)  # what the cache stores
        scored = module.model(attention_mask=batch["attention_mask"], hidden_states=cached.float())
        logits = {}
        for states in ("float16", None):
            DecodingSettings(encoder_states=states).write(tmp_path)
            for name, model in (
                ("answerer", Answerer.from_folder(str(tmp_path)).model),
                ("pipeline", qa_pipeline(str(tmp_path)).span_model),
            ):
                logits[name, states] = model(**batch).start_logits
    for name in ("answerer", "pipeline"):
        assert torch.equal(logits[name, "float16"], scored.start_logits), name
        assert not torch.equal(logits[name, None], scored.start_logits), name
