"""Optimizers, parameter groups and schedules from config nodes (models/optimization.py,
models/param_groups.py): any optimizer, the default groups as before, layer-wise lr decay,
a researcher's own classes by ``_target_``, and bad nodes refused in one line."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import pytest
import torch
from torch.optim.lr_scheduler import LambdaLR

from qa_lightning.errors import ConfigError
from qa_lightning.models.head_module import HeadQAModule
from qa_lightning.models.optimization import (
    SCHEDULER_NAMES,
    check_optimization,
    check_scheduler,
)
from qa_lightning.models.param_groups import ParamGroups, trainable
from qa_lightning.models.qa_module import QAModule
from qa_lightning.models.safe_checkpoint import read_checkpoint
from tests.models.test_qa_module import configure

HERE = __name__  # tests.models.test_optimization: the researcher's "own package"
ADAMW = {"_target_": "torch.optim.AdamW", "_partial_": True, "lr": 1e-3, "weight_decay": 0.01}
SGD = {
    "_target_": "torch.optim.SGD",
    "_partial_": True,
    "lr": 0.05,
    "momentum": 0.9,
    "weight_decay": 0.01,
}
LLRD = {"_target_": "qa_lightning.models.param_groups.LayerwiseDecay", "decay": 0.5}
CONSTANT = {"name": "constant", "warmup_ratio": 0.0}
ONE_CYCLE = {"_target_": "torch.optim.lr_scheduler.OneCycleLR", "_partial_": True, "max_lr": 0.05}


def batch() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    out = {
        "input_ids": torch.randint(5, 200, (8, 24), generator=g),
        "attention_mask": torch.ones(8, 24, dtype=torch.long),
        "start_positions": torch.randint(1, 20, (8,), generator=g),
    }
    out["end_positions"] = out["start_positions"] + 2
    return out


def train_steps(module, optimizer, scheduler, n: int) -> float:
    with mock.patch.object(QAModule, "log", lambda *a, **k: None):
        for _ in range(n):
            loss = module.training_step(batch(), 0)
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
    return loss.item()


def ids(groups) -> list[list[int]]:
    return [[id(p) for p in g["params"]] for g in groups]


def groups_before_the_seam(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """configure_optimizers' groups before optimizer_groups existed (copied from it)."""
    decay, no_decay = [], []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


# -- parameter groups ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "groups", [None, {"_target_": "qa_lightning.models.param_groups.DecayGroups"}]
)
@pytest.mark.parametrize("kind", ["qa", "frozen layers"])
def test_the_default_groups_are_the_groups_of_before(tiny_bert_dir, groups, kind):
    if kind == "qa":
        module = QAModule(str(tiny_bert_dir), optimizer=ADAMW, optimizer_groups=groups)
    else:  # frozen parameters are left out
        module = HeadQAModule(
            str(tiny_bert_dir),
            head="linear",
            freeze="layers",
            freeze_layers=1,
            optimizer=ADAMW,
            optimizer_groups=groups,
        )
    optimizer = configure(module, 100)["optimizer"]
    before = groups_before_the_seam(module.model, 0.01)
    assert ids(optimizer.param_groups) == ids(before)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    assert [g["initial_lr"] for g in optimizer.param_groups] == [1e-3, 1e-3]


def test_a_checkpoint_of_before_the_seam_builds_the_same_optimizer(tiny_bert_dir):
    """Hyper-parameters as old checkpoints hold them: no optimizer_groups, AdamW's keys."""
    old = {
        "model_name_or_path": str(tiny_bert_dir),
        "optimizer": {**ADAMW, "betas": [0.9, 0.999], "eps": 1e-8},
        "scheduler": {"name": "linear", "warmup_ratio": 0.1, "warmup_steps": None},
    }
    module = QAModule(**old)
    config = configure(module, 100)
    optimizer = config["optimizer"]
    assert type(optimizer) is torch.optim.AdamW
    assert ids(optimizer.param_groups) == ids(groups_before_the_seam(module.model, 0.01))
    assert optimizer.param_groups[0]["lr"] == 0.0  # linear warm-up starts at 0


def depth_from_name(name: str) -> int:
    """The tiny BERT has 2 layers: the top one and the QA layer or head 0, then 1, 2."""
    if ".layer.0." in name:
        return 1
    if "embeddings" in name:
        return 2
    return 0  # encoder.layer.1, qa_outputs, our head, the pooler


@pytest.mark.parametrize("kind", ["QAModule", "HeadQAModule"])
def test_layerwise_lr_decay_gives_each_layer_its_rate(tiny_bert_dir, kind):
    settings = {"optimizer": ADAMW, "optimizer_groups": LLRD}
    if kind == "QAModule":
        module = QAModule(str(tiny_bert_dir), **settings)
    else:
        module = HeadQAModule(str(tiny_bert_dir), head="mlp", freeze="none", **settings)
    optimizer = configure(module, 100)["optimizer"]
    lr_of = {id(p): g["initial_lr"] for g in optimizer.param_groups for p in g["params"]}
    decay_of = {id(p): g["weight_decay"] for g in optimizer.param_groups for p in g["params"]}
    named = dict(module.model.named_parameters())
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(lr_of) == len(named)
    for name, p in named.items():
        assert lr_of[id(p)] == pytest.approx(1e-3 * 0.5 ** depth_from_name(name)), name
        assert decay_of[id(p)] == (0.01 if p.ndim >= 2 else 0.0), name
    assert {depth_from_name(n) for n in named} == {0, 1, 2}
    # the schedule scales every group alike: the rates keep their ratios while warming up
    scheduler = configure(module, 100)["lr_scheduler"]["scheduler"]
    optimizer = scheduler.optimizer
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    top, bottom = optimizer.param_groups[-1]["lr"], optimizer.param_groups[0]["lr"]
    assert 0 < top < 1e-3 and bottom == pytest.approx(top * 0.25)


def test_layerwise_lr_decay_leaves_frozen_layers_out(tiny_bert_dir):
    module = HeadQAModule(
        str(tiny_bert_dir),
        head="linear",
        freeze="layers",
        freeze_layers=1,
        optimizer=ADAMW,
        optimizer_groups=LLRD,
    )
    optimizer = configure(module, 100)["optimizer"]
    seen = {id(p) for g in optimizer.param_groups for p in g["params"]}
    assert seen == {id(p) for _, p in trainable(module.model)}
    assert {g["lr"] for g in optimizer.param_groups} == {0.0}  # warm-up starts at 0
    assert {g["initial_lr"] for g in optimizer.param_groups} == {1e-3}  # layer 1 and head


# -- any optimizer ---------------------------------------------------------------------------


def test_sgd_with_momentum_trains_through_the_module(tiny_bert_dir):
    torch.manual_seed(0)
    module = QAModule(str(tiny_bert_dir), optimizer=SGD, scheduler=CONSTANT)
    config = configure(module, 100)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert type(optimizer) is torch.optim.SGD
    assert [g["momentum"] for g in optimizer.param_groups] == [0.9, 0.9]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
    with mock.patch.object(QAModule, "log", lambda *a, **k: None):
        first = module.training_step(batch(), 0).item()
    last = train_steps(module, optimizer, scheduler, 20)
    assert last < first * 0.7
    weight = module.model.qa_outputs.weight
    assert "momentum_buffer" in optimizer.state[weight]


class SignSGD(torch.optim.Optimizer):
    """A researcher's optimizer, with a key AdamW lacks (``scale``)."""

    def __init__(self, params, lr: float = 1e-2, scale: float = 1.0, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "scale": scale, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.add_(p.grad.sign(), alpha=-group["lr"] * group["scale"])


class FasterHead(ParamGroups):
    """A researcher's groups: the QA layer at ``factor`` times the lr, the rest at lr."""

    def __init__(self, factor: float = 10.0):
        self.factor = factor

    def __call__(self, model, *, lr, weight_decay):
        head = [p for n, p in trainable(model) if n.startswith("qa_outputs")]
        rest = [p for n, p in trainable(model) if not n.startswith("qa_outputs")]
        return [{"params": rest}, {"params": head, "lr": lr * self.factor}]


def test_a_researchers_optimizer_and_groups_work_by_target(tiny_bert_dir):
    optimizer_spec = {"_target_": f"{HERE}.SignSGD", "_partial_": True, "lr": 1e-3, "scale": 2.0}
    groups_spec = {"_target_": f"{HERE}.FasterHead", "factor": 5.0}
    check_optimization(optimizer_spec, groups_spec, CONSTANT)  # the start check accepts them
    module = QAModule(
        str(tiny_bert_dir),
        optimizer=optimizer_spec,
        optimizer_groups=groups_spec,
        scheduler=CONSTANT,
    ).eval()
    config = configure(module, 100)
    optimizer = config["optimizer"]
    assert type(optimizer) is SignSGD
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3, 5e-3]
    assert [g["scale"] for g in optimizer.param_groups] == [2.0, 2.0]
    weight = module.model.qa_outputs.weight
    before = weight.detach().clone()
    with mock.patch.object(QAModule, "log", lambda *a, **k: None):
        module.training_step(batch(), 0).backward()
    sign = weight.grad.sign()
    optimizer.step()
    assert torch.equal(weight.detach(), before - 5e-3 * 2.0 * sign)


# -- schedules -------------------------------------------------------------------------------

SIZES_SEEN: list[tuple[int, int]] = []


def recorded_warmup(optimizer, num_warmup_steps: int, num_training_steps: int) -> LambdaLR:
    """A researcher's schedule function: warm up, then flat (and record the sizes given)."""
    SIZES_SEEN.append((num_warmup_steps, num_training_steps))
    return LambdaLR(optimizer, lambda step: min(1.0, step / max(1, num_warmup_steps)))


def test_a_schedule_function_gets_the_warmup_and_total_steps(tiny_bert_dir):
    spec = {"_target_": f"{HERE}.recorded_warmup", "_partial_": True, "warmup_ratio": 0.25}
    check_optimization(ADAMW, None, spec)
    SIZES_SEEN.clear()
    config = configure(QAModule(str(tiny_bert_dir), optimizer=ADAMW, scheduler=spec), 100)
    assert SIZES_SEEN == [(25, 100)]
    assert config["lr_scheduler"]["interval"] == "step"
    SIZES_SEEN.clear()
    spec = {**spec, "warmup_steps": 7}  # the steps win over the ratio, as for named schedules
    configure(QAModule(str(tiny_bert_dir), optimizer=ADAMW, scheduler=spec), 100)
    assert SIZES_SEEN == [(7, 100)]


def test_one_cycle_is_sized_by_the_trainers_steps(tiny_bert_dir):
    module = QAModule(str(tiny_bert_dir), optimizer=ADAMW, scheduler=ONE_CYCLE)
    config = configure(module, 40)
    optimizer, scheduler = config["optimizer"], config["lr_scheduler"]["scheduler"]
    assert type(scheduler) is torch.optim.lr_scheduler.OneCycleLR
    assert scheduler.total_steps == 40
    lrs = []
    for _ in range(40):  # OneCycleLR refuses a step past total_steps
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert max(lrs) == pytest.approx(0.05) and lrs[0] < 0.05 / 10 and lrs[-1] < lrs[0]


def test_every_named_schedule_passes_the_check():
    for name in SCHEDULER_NAMES:
        assert check_scheduler({"name": name, "warmup_ratio": 0.1}) is None


# -- resume and checkpoints ------------------------------------------------------------------


def test_sgd_with_layerwise_decay_and_one_cycle_resume_exactly(tiny_bert_dir, tmp_path: Path):
    """What Lightning does on resume (state dicts saved, read weights-only, loaded into the
    optimizer and schedule the saved hyper-parameters build) continues step for step."""
    settings = {"optimizer": SGD, "optimizer_groups": LLRD, "scheduler": ONE_CYCLE}

    def start(**kwargs):
        module = QAModule(str(tiny_bert_dir), **kwargs).eval()  # no dropout: comparable
        config = configure(module, 12)
        return module, config["optimizer"], config["lr_scheduler"]["scheduler"]

    straight = start(**settings)
    train_steps(*straight, 6)
    first = start(**settings)
    train_steps(*first, 3)
    module, optimizer, scheduler = first
    path = tmp_path / "mid.ckpt"
    torch.save(
        {
            "state_dict": module.state_dict(),
            "optimizer_states": [optimizer.state_dict()],
            "lr_schedulers": [scheduler.state_dict()],
            "hyper_parameters": dict(module.hparams),
        },
        path,
    )
    saved = read_checkpoint(path)  # weights_only: the settings are plain data
    assert saved["hyper_parameters"]["optimizer_groups"] == LLRD
    hparams = dict(saved["hyper_parameters"])
    assert hparams.pop("model_name_or_path") == str(tiny_bert_dir)
    resumed = start(**hparams)
    resumed[0].load_state_dict(saved["state_dict"])
    resumed[1].load_state_dict(saved["optimizer_states"][0])
    resumed[2].load_state_dict(saved["lr_schedulers"][0])
    train_steps(*resumed, 3)
    for (name, a), b in zip(straight[0].named_parameters(), resumed[0].parameters(), strict=True):
        assert torch.equal(a, b), name


# -- bad nodes: one line naming the key ------------------------------------------------------

ONE_CYCLE_NO_PARTIAL = {k: v for k, v in ONE_CYCLE.items() if k != "_partial_"}
BAD_NODES = [
    ({"_partial_": True, "lr": 1e-3}, None, None, "optimizer needs a _target_"),
    (
        {"_target_": "no_such_package.Optimizer", "_partial_": True},
        None,
        None,
        "optimizer._target_='no_such_package.Optimizer' cannot be imported",
    ),
    (
        {"_target_": "torch.nn.Linear", "_partial_": True},
        None,
        None,
        "optimizer._target_='torch.nn.Linear' is not a optimizer: give a subclass of "
        "torch.optim.optimizer.Optimizer",
    ),
    (
        {**SGD, "momentun": 0.9},
        None,
        None,
        "optimizer.momentun: SGD takes no 'momentun'; it takes lr, momentum, ",
    ),
    (
        {"_target_": "torch.optim.AdamW", "lr": 1e-3},
        None,
        None,
        "optimizer._partial_ must be true",
    ),
    ({**ADAMW, "lr": -1}, None, None, "optimizer.lr=-1 must be a positive number"),
    ({**ADAMW, "lr": "fast"}, None, None, "optimizer.lr='fast' must be a positive number"),
    ({**ADAMW, "weight_decay": -0.1}, None, None, "optimizer.weight_decay=-0.1 must be a number"),
    (ADAMW, {"decay": 0.8}, None, "optimizer_groups needs a _target_"),
    (
        ADAMW,
        {**LLRD, "decy": 0.9},
        None,
        "optimizer_groups.decy: LayerwiseDecay takes no 'decy'; it takes decay",
    ),
    (
        ADAMW,
        {"_target_": "torch.optim.SGD"},
        None,
        "optimizer_groups._target_='torch.optim.SGD' is not a parameter-group builder",
    ),
    (ADAMW, {**LLRD, "decay": 0}, None, "optimizer_groups.decay=0 must be a number in (0, 1]"),
    (ADAMW, None, {"name": "bogus"}, "scheduler.name='bogus'; use one of linear, cosine, "),
    (ADAMW, None, {"name": "linear", "warmup_ration": 0.1}, "scheduler.warmup_ration is not"),
    (ADAMW, None, {"warmup_ratio": 1.0}, "scheduler.warmup_ratio=1.0 must be in [0, 1)"),
    (ADAMW, None, {"warmup_steps": -1}, "scheduler.warmup_steps=-1 must be a whole number"),
    (ADAMW, None, {**ONE_CYCLE, "name": "linear"}, "scheduler.name and scheduler._target_ are"),
    (ADAMW, None, ONE_CYCLE_NO_PARTIAL, "scheduler._partial_ must be true"),
    (ADAMW, None, {**ONE_CYCLE, "max_lrr": 1.0}, "scheduler.max_lrr: OneCycleLR takes no"),
    (
        ADAMW,
        None,
        {**ONE_CYCLE, "warmup_ratio": 0.1},
        "scheduler.warmup_ratio=0.1 would be ignored: torch.optim.lr_scheduler.OneCycleLR "
        "takes no num_warmup_steps",
    ),
    (
        ADAMW,
        None,
        {"_target_": "torch.nn.Linear", "_partial_": True},
        "scheduler._target_='torch.nn.Linear' is not a learning-rate scheduler",
    ),
    (
        ADAMW,
        None,
        {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau", "_partial_": True},
        "scheduler._target_='torch.optim.lr_scheduler.ReduceLROnPlateau' steps on a "
        "monitored metric",
    ),
]


@pytest.mark.parametrize(("optimizer", "groups", "scheduler", "message"), BAD_NODES)
def test_a_bad_node_fails_in_one_line_naming_the_key(optimizer, groups, scheduler, message):
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}") as err:
        check_optimization(optimizer, groups, scheduler)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optimizer._target_=no_such_package.Adam"], "optimizer._target_='no_such_package.Adam'"),
        (["optimizer._target_=torch.nn.Linear"], "optimizer._target_='torch.nn.Linear' is not"),
        (["optimizer=sgd", "+optimizer.momentun=0.9"], "optimizer.momentun: SGD takes no"),
        (["optimizer._target_=torch.optim.Adagrad"], "optimizer.betas: Adagrad takes no 'betas'"),
        (["optimizer_groups=llrd", "optimizer_groups.decay=2"], "optimizer_groups.decay=2 must"),
        (["scheduler=one_cycle", "+scheduler.cycles=2"], "scheduler.cycles: OneCycleLR takes no"),
        (["scheduler.name=bogus"], "scheduler.name='bogus'; use one of linear,"),
    ],
)
def test_train_checks_the_nodes_before_any_data_or_model_loads(overrides, message, tmp_path):
    from hydra import compose, initialize_config_dir

    from qa_lightning.cli import train as train_cli
    from qa_lightning.config import register_configs

    register_configs()
    conf = Path(__file__).resolve().parents[2] / "conf"
    paths = [f"paths.root_dir={conf.parent}", f"paths.output_dir={tmp_path / 'run'}"]
    with initialize_config_dir(config_dir=str(conf), version_base="1.3"):
        cfg = compose("train", overrides=[*overrides, *paths, "data=synthetic"])
    loads = mock.Mock(side_effect=AssertionError("the data or the model was loaded"))
    with (
        mock.patch.object(train_cli, "_prepared_data", loads),
        mock.patch.object(train_cli, "make_module", loads),
        pytest.raises(ConfigError, match=f"^{re.escape(message)}") as err,
    ):
        train_cli.train(cfg)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "run").exists()  # nothing written either
