"""SquadDataModule: cache keying and reuse, dynamic padding, feature indices under any sampler."""

from __future__ import annotations

import pytest
import torch
from datasets import Dataset

from qa_lightning.config import DataConfig
from qa_lightning.data import feature_cache
from qa_lightning.data.datamodule import SquadDataModule, feature_lengths
from tests.fixtures import make_squad_examples


def data_cfg(tmp_path, **overrides):
    from omegaconf import OmegaConf

    cfg = OmegaConf.to_container(OmegaConf.structured(DataConfig), resolve=False)
    cfg.update(
        source="synthetic",
        synthetic={"n_train": 60, "n_eval": 30, "unanswerable_fraction": 0.0, "seed": 0},
        max_length=64,
        doc_stride=16,
        max_question_tokens=24,
        batch_size=8,
        eval_batch_size=8,
        cache_dir=str(tmp_path / "features"),
        encoder_cache_dir=str(tmp_path / "encoder"),
    )
    cfg.update(overrides)
    return cfg


@pytest.fixture
def datamodule(tmp_path, wordpiece_tokenizer):
    dm = SquadDataModule(data_cfg(tmp_path), wordpiece_tokenizer, seed=1)
    dm.prepare_data()
    dm.setup("fit")
    return dm


def test_batches_are_padded_to_their_longest_row_only(datamodule):
    lengths = feature_lengths(datamodule.train_features)
    assert min(lengths) < max(lengths)  # the test needs rows of different lengths
    widths = []
    for batch in datamodule.train_dataloader():
        mask = batch["attention_mask"]
        assert mask.shape[1] == int(mask.sum(1).max())  # no column of pure padding
        assert set(batch) >= {
            "input_ids",
            "attention_mask",
            "token_type_ids",
            "start_positions",
            "end_positions",
        }
        widths.append(mask.shape[1])
    assert max(widths) <= 64 and min(widths) < 64


@pytest.mark.parametrize("overrides", [{}, {"pad_to_multiple_of": 16}, {"pad_to_max_length": True}])
@pytest.mark.parametrize("tokenizer", ["wordpiece_tokenizer", "bpe_tokenizer"])
def test_batches_equal_what_the_tokenizer_pads(tmp_path, request, tokenizer, overrides):
    """Batches are padded from Arrow, not by ``tokenizer.pad``: the same tensors, with each
    tokenizer's own pad values (BERT's 0, RoBERTa's 1), widths and columns."""
    tok = request.getfixturevalue(tokenizer)
    dm = SquadDataModule(data_cfg(tmp_path, **overrides), tok, seed=1)
    dm.prepare_data()
    dm.setup("fit")
    columns = [*dm.model_inputs, "start_positions", "end_positions"]
    loaders = [(dm.train_dataloader(), dm.train_features), (dm.feature_loader("validation"), None)]
    for loader, features in loaders:
        features = features if features is not None else dm.features("validation")
        for batch in loader:
            index = batch["feature_index"].tolist()
            rows = features.select(index).select_columns(
                [c for c in columns if c in features.column_names]
            )
            expected = tok.pad(
                [dict(row) for row in rows],
                padding="max_length" if overrides.get("pad_to_max_length") else "longest",
                max_length=64,
                pad_to_multiple_of=overrides.get("pad_to_multiple_of"),
                padding_side="right",
                return_tensors="pt",
            )
            assert set(batch) == {*expected, "feature_index"}
            for name, tensor in expected.items():
                assert batch[name].dtype == tensor.dtype, name
                assert torch.equal(batch[name], tensor), name


def test_eval_batches_carry_the_feature_index_of_each_row(datamodule):
    seen = []
    features = datamodule.eval_features
    for batch in datamodule.val_dataloader():
        for row, index in enumerate(batch["feature_index"].tolist()):
            expected = features[index]["input_ids"]
            assert batch["input_ids"][row, : len(expected)].tolist() == expected
        seen += batch["feature_index"].tolist()
    assert sorted(seen) == list(range(len(features)))
    lengths = feature_lengths(features)
    assert [lengths[i] for i in seen] == sorted(lengths, reverse=True)  # longest first


def test_length_grouped_train_batches_cover_every_feature_once(datamodule):
    seen = torch.cat([b["feature_index"] for b in datamodule.train_dataloader()]).tolist()
    assert sorted(seen) == list(range(len(datamodule.train_features)))


def test_cache_is_reused_and_keyed_by_every_setting(
    tmp_path, wordpiece_tokenizer, bpe_tokenizer, monkeypatch
):
    base = SquadDataModule(data_cfg(tmp_path), wordpiece_tokenizer)
    base.prepare_data()
    calls = []
    original = feature_cache.prepare_train_features
    monkeypatch.setattr(
        feature_cache,
        "prepare_train_features",
        lambda *a, **k: calls.append(1) or original(*a, **k),
    )
    again = SquadDataModule(data_cfg(tmp_path), wordpiece_tokenizer)
    again.prepare_data()
    assert calls == []  # a second run reads the cache
    assert again.cache_key("train") == base.cache_key("train")

    changed = [
        SquadDataModule(data_cfg(tmp_path, doc_stride=8), wordpiece_tokenizer),
        SquadDataModule(data_cfg(tmp_path, max_length=48), wordpiece_tokenizer),
        SquadDataModule(data_cfg(tmp_path, max_train_samples=10), wordpiece_tokenizer),
        SquadDataModule(data_cfg(tmp_path, max_question_tokens=16), wordpiece_tokenizer),
        SquadDataModule(
            data_cfg(
                tmp_path,
                synthetic={"n_train": 61, "n_eval": 30, "unanswerable_fraction": 0.0, "seed": 0},
            ),
            wordpiece_tokenizer,
        ),
        SquadDataModule(data_cfg(tmp_path), bpe_tokenizer),
    ]
    keys = {dm.cache_key("train") for dm in changed}
    assert base.cache_key("train") not in keys and len(keys) == len(changed)
    changed[0].prepare_data()
    assert calls == [1]


def test_cache_key_follows_file_content(tmp_path, wordpiece_tokenizer):
    import json

    path = tmp_path / "train.json"

    def write(rows):
        data = [
            {
                "title": r["title"],
                "paragraphs": [
                    {
                        "context": r["context"],
                        "qas": [
                            {
                                "id": r["id"],
                                "question": r["question"],
                                "answers": [
                                    {"text": t, "answer_start": s}
                                    for t, s in zip(
                                        r["answers"]["text"],
                                        r["answers"]["answer_start"],
                                        strict=True,
                                    )
                                ],
                            }
                        ],
                    }
                ],
            }
            for r in rows
        ]
        path.write_text(json.dumps({"version": "1.1", "data": data}))

    write(make_squad_examples(4, seed=0))
    cfg = data_cfg(tmp_path, source="squad_json", train_file=str(path), validation_file=str(path))
    first = SquadDataModule(cfg, wordpiece_tokenizer).cache_key("train")
    write(make_squad_examples(4, seed=1))
    assert SquadDataModule(cfg, wordpiece_tokenizer).cache_key("train") != first


def test_an_unfinished_cache_entry_is_rebuilt(tmp_path, wordpiece_tokenizer):
    dm = SquadDataModule(data_cfg(tmp_path), wordpiece_tokenizer)
    path = dm.cache_path("validation")
    path.mkdir(parents=True)
    Dataset.from_dict({"junk": [1]}).save_to_disk(str(path / "features"))  # no completion marker
    dm.prepare_data()
    dm.setup("validate")
    assert "offset_mapping" in dm.eval_features.column_names


def test_max_samples_select_examples_not_features(tmp_path, wordpiece_tokenizer):
    dm = SquadDataModule(
        data_cfg(tmp_path, max_train_samples=7, max_eval_samples=5), wordpiece_tokenizer
    )
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.eval_examples) == 5
    assert sorted(set(dm.eval_features["example_index"])) == list(range(5))
    assert len(set(dm.train_features["example_index"])) == 7


def test_a_capped_train_subset_is_keyed_by_its_seed(tmp_path, wordpiece_tokenizer):
    def key(seed, **overrides):
        return SquadDataModule(
            data_cfg(tmp_path, **overrides), wordpiece_tokenizer, seed=seed
        ).cache_key("train")

    assert key(1, max_train_samples=10) != key(2, max_train_samples=10)
    assert key(1) == key(2)  # the whole set does not depend on the seed


def test_missing_data_file_names_the_key(tmp_path, wordpiece_tokenizer):
    cfg = data_cfg(
        tmp_path,
        source="squad_json",
        train_file=str(tmp_path / "nope.json"),
        validation_file=str(tmp_path / "dev.json"),
    )
    with pytest.raises(FileNotFoundError, match=r"nope\.json.*data\.train_file"):
        SquadDataModule(cfg, wordpiece_tokenizer).prepare_data()


def test_tokenizer_fingerprint_ignores_state_left_by_encoding(wordpiece_tokenizer):
    from qa_lightning.data.feature_cache import tokenizer_fingerprint

    before = tokenizer_fingerprint(wordpiece_tokenizer)
    wordpiece_tokenizer(
        ["a q"] * 2,
        ["some context words here"] * 2,
        truncation="only_second",
        max_length=12,
        stride=2,
        return_overflowing_tokens=True,
        padding="max_length",
    )
    assert tokenizer_fingerprint(wordpiece_tokenizer) == before
