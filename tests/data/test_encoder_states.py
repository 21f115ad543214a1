"""Encoder-output cache on the data side: keys, reuse across runs, corruption, batches that
carry the states, and cached == recomputed."""

from __future__ import annotations

import json
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from qa_lightning.callbacks.evaluation import EvaluationCallback, LatestResults
from qa_lightning.data import encoder_states as ec
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.models.encoder_head import encoder_fingerprint
from qa_lightning.models.head_module import HeadQAModule
from tests.data.test_datamodule import data_cfg

OPTIMIZER = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 3e-3, "weight_decay": 0.0}


def make_module(model_dir, *, encoder_cache=True, head="bilstm", **kw):
    pl.seed_everything(0)  # the head's initial weights
    return HeadQAModule(
        str(model_dir),
        head=head,
        head_args={"dropout": 0.1, "hidden_size": 16},
        freeze="all",
        encoder_cache=encoder_cache,
        optimizer=OPTIMIZER,
        **kw,
    )


def make_datamodule(tmp_path, tokenizer, module=None, **overrides):
    """Data for ``module`` as the entry points wire it: handed its frozen encoder, if any;
    encoder cache entries go to ``tmp_path / "enc"``."""
    cfg = data_cfg(tmp_path, encoder_cache_dir=str(tmp_path / "enc"), **overrides)
    encoder = module.encoder_states() if module is not None else None
    return SquadDataModule(cfg, tokenizer, seed=1, encoder=encoder)


def trainer_and_results(epochs: int = 1) -> tuple[pl.Trainer, LatestResults]:
    latest = LatestResults()
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        callbacks=[EvaluationCallback([latest])],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    return trainer, latest


def fit(module, datamodule, epochs=2):
    """(scores, outputs) of the last validation."""
    pl.seed_everything(0, workers=True)
    trainer, latest = trainer_and_results(epochs)
    trainer.fit(module, datamodule=datamodule)
    (result,) = latest.results
    return result.scores, result.outputs


def test_cached_and_recomputed_training_agree(tmp_path, tiny_bert_dir, wordpiece_tokenizer):
    cached = make_module(tiny_bert_dir)
    scores_c, out_c = fit(cached, make_datamodule(tmp_path, wordpiece_tokenizer, cached))
    recomputed = make_module(tiny_bert_dir, encoder_cache=False)
    assert recomputed.encoder_states() is None
    scores_r, out_r = fit(recomputed, make_datamodule(tmp_path, wordpiece_tokenizer, recomputed))
    assert _cache_entries(tmp_path / "enc")  # the cached run did use the cache
    # Same batches, same dropout draws: only float16 storage separates the two runs. The
    # output bias is left out: softmax ignores a shift shared by all positions, so its true
    # gradient is 0 and Adam turns rounding noise into full-size steps in both runs.
    for (name, a), b in zip(
        cached.model.head.named_parameters(), recomputed.model.head.parameters(), strict=True
    ):
        if name != "out.bias":
            torch.testing.assert_close(a, b, atol=5e-4, rtol=1e-2, msg=name)
    assert out_c.predictions == out_r.predictions
    assert scores_c == scores_r


def test_batches_carry_the_encoder_states(tmp_path, tiny_bert_dir, wordpiece_tokenizer):
    """Every batch of every loader (train and eval) carries the states the encoder gives
    its features, float16 and zero on padding; the module then runs its head alone."""
    module = make_module(tiny_bert_dir)
    dm = make_datamodule(tmp_path, wordpiece_tokenizer, module)
    dm.prepare_data()
    dm.setup("fit")
    assert len(dm.encoder_states("validation")) == len(dm.eval_features)
    for loader in (dm.train_dataloader(), dm.feature_loader("validation")):
        batch = next(iter(loader))
        with torch.no_grad():
            expected = module.model.encode(
                batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
            )
        got = batch["hidden_states"]
        assert got.dtype == torch.float16 and got.shape == expected.shape
        mask = batch["attention_mask"].bool()
        torch.testing.assert_close(got[mask].float(), expected[mask], atol=2e-3, rtol=2e-3)
        assert torch.all(got[~mask] == 0)
        # the head consumes them: the encoder does not run
        with mock.patch.object(module.model, "encode", side_effect=AssertionError("encoder ran")):
            out = module(batch)
        assert out.start_logits.shape == batch["input_ids"].shape
    # a datamodule without an encoder serves plain batches
    plain = make_datamodule(tmp_path, wordpiece_tokenizer)
    plain.setup("fit")
    assert "hidden_states" not in next(iter(plain.feature_loader("validation")))


def test_states_are_computed_under_the_trainers_autocast(tiny_bert_dir, wordpiece_tokenizer):
    """bf16 states are the encoder's output under bf16 autocast (what a bf16 step computes),
    cached under their own key: fp32 states are another entry."""
    module = make_module(tiny_bert_dir)
    inputs = dict(
        wordpiece_tokenizer(
            ["where is the river", "who wrote it"], padding=True, return_tensors="pt"
        )
    )
    fp32, bf16 = module.encoder_states(), module.encoder_states(torch.bfloat16)
    assert fp32.key != bf16.key
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected = module.model.encode(**inputs)
    torch.testing.assert_close(bf16(inputs), expected, atol=0, rtol=0)
    assert not torch.equal(fp32(inputs), expected)  # autocast does change them


def _cache_entries(root: Path) -> set[str]:
    return (
        {p.name for p in root.iterdir() if not p.name.startswith(".")} if root.exists() else set()
    )


def test_cache_is_reused_across_runs_and_keyed_by_every_setting(
    tmp_path, tiny_bert_dir, wordpiece_tokenizer
):
    root = tmp_path / "enc"
    builds = []
    real_build = ec.build_encoded_features

    def counting_build(path, *args, **kwargs):
        builds.append(Path(path).name)
        return real_build(path, *args, **kwargs)

    def run(module, **data):
        fit(module, make_datamodule(tmp_path, wordpiece_tokenizer, module, **data), 1)

    with mock.patch.object(ec, "build_encoded_features", counting_build):
        run(make_module(tiny_bert_dir))
        assert len(builds) == 2  # train and validation
        first = _cache_entries(root)
        # a second run (a new module, another head): reads both entries, builds nothing
        run(make_module(tiny_bert_dir, head="linear"))
        assert len(builds) == 2 and _cache_entries(root) == first
        # a changed feature setting is a new key
        run(make_module(tiny_bert_dir), doc_stride=8)
        assert len(builds) == 4
        # another layer is a new key
        run(make_module(tiny_bert_dir, hidden_layer=1))
        assert len(builds) == 6
        assert len(_cache_entries(root)) == 6


def test_encoder_weights_are_part_of_the_key(tiny_bert_dir):
    from qa_lightning.models.loading import load_encoder

    encoder = load_encoder(str(tiny_bert_dir))
    before = encoder_fingerprint(encoder)
    assert encoder_fingerprint(load_encoder(str(tiny_bert_dir))) == before
    with torch.no_grad():
        encoder.encoder.layer[1].output.dense.weight[0, 0] += 1e-3
    after = encoder_fingerprint(encoder)
    assert after != before
    assert ec.encoder_cache_key(before, "train-abc") != ec.encoder_cache_key(after, "train-abc")
    assert ec.encoder_cache_key(before, "train-abc") == ec.encoder_cache_key(before, "train-abc")
    # the states' key names the layer too
    module = make_module(tiny_bert_dir)
    assert (
        module.encoder_states().key
        != make_module(tiny_bert_dir, hidden_layer=1).encoder_states().key
    )


@pytest.mark.parametrize("damage", ["truncate", "meta"])
def test_damaged_entry_is_not_trusted(tmp_path, damage):
    lengths = np.array([3, 5, 2])
    batches = [{"feature_index": torch.tensor([0, 1, 2])}]
    entry = tmp_path / "train-x"
    ec.build_encoded_features(entry, lambda b: torch.ones(3, 5, 4), batches, lengths, 4)
    assert ec.open_encoded_features(entry) is not None
    if damage == "truncate":
        data = (entry / "hidden.npy").read_bytes()
        (entry / "hidden.npy").write_bytes(data[: len(data) // 2])
    else:
        meta = json.loads((entry / "meta.json").read_text())
        (entry / "meta.json").write_text(json.dumps({**meta, "total_tokens": 99}))
    assert ec.open_encoded_features(entry) is None


def test_interrupted_build_leaves_no_entry(tmp_path):
    def failing(batches):
        yield batches[0]
        raise KeyboardInterrupt

    lengths = np.array([3, 5])
    entry = tmp_path / "train-y"
    with pytest.raises(KeyboardInterrupt):
        ec.build_encoded_features(
            entry,
            lambda b: torch.ones(1, 5, 4),
            failing([{"feature_index": torch.tensor([0])}]),
            lengths,
            4,
        )
    assert not entry.exists() and list(tmp_path.iterdir()) == []


def test_every_evaluation_set_reads_its_own_cache_entry(
    tmp_path, tiny_bert_dir, wordpiece_tokenizer
):
    """Eval batches say which set they are from: a cached frozen encoder must serve each set
    its own states (feature indices of two sets overlap), as the live encoder would."""
    from qa_lightning.data.synthetic import make_synthetic_squad

    path = tmp_path / "other.jsonl"
    with open(path, "w") as f:
        for row in make_synthetic_squad(25, seed=5, id_prefix="other"):
            f.write(json.dumps(row) + "\n")
    other = {"other": str(path)}

    def validate(encoder_cache: bool):
        module = make_module(tiny_bert_dir, encoder_cache=encoder_cache)
        dm = make_datamodule(tmp_path, wordpiece_tokenizer, module, eval_sets=other)
        trainer, latest = trainer_and_results()
        trainer.validate(module, datamodule=dm)
        return {r.name: r for r in latest.results}

    cached, live = validate(True), validate(False)
    assert set(cached) == {"validation", "other"}
    assert len(_cache_entries(tmp_path / "enc")) == 2  # one entry per set
    for name in cached:
        assert cached[name].outputs.predictions == live[name].outputs.predictions, name
        assert cached[name].scores["total"] == live[name].scores["total"] > 0
