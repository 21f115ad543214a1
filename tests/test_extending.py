"""A researcher's components (examples/my_research) through the entry points, with no edit
of qa_lightning/: they train, are saved as plain data, load back in eval.py, the export,
the pipeline and the ONNX graph, and a bad or forbidden class path fails in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from tests.cli.test_train_eval import ROOT, SMALL_DATA, run_entry

EXAMPLES = ROOT / "examples"
SEARCHPATH = f"hydra.searchpath=[file://{EXAMPLES / 'my_research' / 'conf'}]"
ENV = {"PYTHONPATH": os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")])}
RESEARCH = [
    SEARCHPATH,
    "model/head=pointer",
    "model.head.width=16",
    "model/loss=label_smoothed",
    "model._target_=my_research.modules.RDropHeadModule",
    "+model.module_args.rdrop_alpha=0.5",
    "model.freeze=all",
    "optimizer_groups=head_lr",
    "evaluation.slices=[{_target_:qa_lightning.evaluation.slices.QuestionType},"
    "{_target_:my_research.slices.QuestionOverlap}]",
]
FP32 = ["trainer=cpu", "trainer.precision=32-true", "logger=csv", "extras.print_config=false"]


@pytest.fixture(scope="session", autouse=True)
def research_on_path():
    """The example package importable in this process too (the pipeline, the Answerer)."""
    sys.path.insert(0, str(EXAMPLES))
    yield
    sys.path.remove(str(EXAMPLES))


def write_tsv(path: Path, n: int) -> Path:
    """``n`` synthetic questions in my_research's TSV format, every other one weighted 2."""
    from qa_lightning.data.synthetic import make_synthetic_squad

    examples = make_synthetic_squad(n, seed=3, id_prefix="tsv")
    lines = ["id\tquestion\tcontext\tanswer\tweight"]
    for i, ex in enumerate(examples):
        lines.append(
            f"{ex['id']}\t{ex['question']}\t{ex['context']}\t{ex['answers']['text'][0]}\t{1 + i % 2}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def research_run(tmp_path_factory, tiny_bert_dir) -> Path:
    root = tmp_path_factory.mktemp("research")
    tsv = write_tsv(root / "train.tsv", 120)
    reader = f"data.train_file={{_target_:my_research.readers.WeightedTsvReader,path:'{tsv}'}}"
    run_entry(
        "train.py",
        [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, *RESEARCH, reader, *FP32],
        root / "run",
        env=ENV,
    )
    return root / "run"


def test_the_researchers_head_loss_and_module_train_and_are_saved_as_plain_data(research_run):
    metrics = json.loads((research_run / "metrics.json").read_text())
    ckpt = torch.load(metrics["best_checkpoint"], map_location="cpu", weights_only=True)
    assert ckpt["module_class"] == "my_research.modules.RDropHeadModule"
    hparams = ckpt["hyper_parameters"]
    assert hparams["head"] == {
        "_target_": "my_research.heads.PointerHead",
        "width": 16,
        "dropout": 0.1,
    }
    assert hparams["loss"] == {
        "_target_": "my_research.losses.LabelSmoothedSpanLoss",
        "smoothing": 0.1,
    }
    assert hparams["rdrop_alpha"] == 0.5
    assert hparams["optimizer_groups"]["_target_"] == "my_research.param_groups.HeadLearningRate"
    config = yaml.safe_load((research_run / "config.yaml").read_text())
    assert config["data"]["train_file"]["_target_"] == "my_research.readers.WeightedTsvReader"
    saved = json.loads((research_run / "best_model" / "qa_head.json").read_text())
    assert saved["head"]["_target_"] == "my_research.heads.PointerHead"
    # the module's own training step ran: it logs the two passes' disagreement
    header = (research_run / "csv" / "metrics.csv").read_text().splitlines()[0]
    assert "train/rdrop_kl" in header.split(",")
    # the researcher's slice is scored beside the built-in one, in its own label order
    slices = metrics["sets"]["validation"]["slices"]
    assert list(slices) == ["question_type", "question_overlap"]
    assert set(slices["question_overlap"]) <= {"low", "mid", "high", "none"}
    assert sum(s["count"] for s in slices["question_overlap"].values()) == 40


@pytest.mark.parametrize("source", ["dir", pytest.param("ckpt", marks=pytest.mark.slow)])
def test_eval_rebuilds_them_only_when_the_package_is_named(research_run, tmp_path, source):
    trained = json.loads((research_run / "predictions.json").read_text())
    metrics = json.loads((research_run / "metrics.json").read_text())
    given = {
        "dir": f"model.name_or_path={research_run / 'best_model'}",
        "ckpt": f"ckpt_path={metrics['best_checkpoint']}",
    }[source]
    base = [given, *SMALL_DATA[:5], *FP32]
    refused = run_entry("eval.py", base, tmp_path / "refused", check=False, env=ENV)
    lines = refused.stderr.strip().splitlines()
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "imports=[my_research]" in lines[-1]
    run_entry("eval.py", [*base, "imports=[my_research]"], tmp_path / "scored", env=ENV)
    assert json.loads((tmp_path / "scored" / "predictions.json").read_text()) == trained


def test_serve_answers_with_the_researchers_head_as_the_pipeline_and_the_run(
    research_run, tmp_path
):
    """serve.py's service on the run's export (its head my_research's PointerHead, rebuilt
    from qa_head.json) answers over HTTP exactly as the pipeline, the Answerer and the run's
    own scoring did."""
    import my_research  # noqa: F401  (serve.py imports=[my_research] does this)
    from omegaconf import OmegaConf

    from qa_lightning.cli.export import write_export
    from qa_lightning.cli.serve import build_service
    from qa_lightning.config import ServeConfig
    from qa_lightning.data.synthetic import make_synthetic_squad
    from qa_lightning.inference import qa_pipeline
    from tests.serving.test_service import live, post

    folder = write_export(research_run, tmp_path / "export")  # the run's windows, no ONNX
    cfg = OmegaConf.structured(ServeConfig)
    cfg.model_dir, cfg.imports, cfg.max_windows_per_item = str(folder), ["my_research"], 32
    app, answerer = build_service(cfg)
    assert type(answerer.model.head).__name__ == "PointerHead"
    examples = make_synthetic_squad(40, seed=10_000, id_prefix="syn-validation")
    items = [
        {"question": q, "context": c, "id": i}
        for q, c, i in zip(examples["question"], examples["context"], examples["id"], strict=True)
    ]
    with live(app) as server:
        response = post(server, items)
        single = post(server, items[3])
    assert response.status_code == 200 and single.status_code == 200, response.text
    served = [a["answer"] for a in response.json()]
    predictions = json.loads((research_run / "predictions.json").read_text())
    assert served == [predictions[i] for i in examples["id"]]  # as the run scored them
    assert served == [a["answer"] for a in qa_pipeline(str(folder))(items, batch_size=8)]
    assert served == [a["answer"] for a in answerer.answer(items, batch_size=5)]
    assert single.json()["answer"] == served[3] and single.json()["id"] == items[3]["id"]


@pytest.mark.slow
def test_the_export_pipeline_and_onnx_graph_answer_as_the_run_scored(research_run, tmp_path):
    import my_research  # noqa: F401  (the user's own script imports their package)

    from qa_lightning.data.synthetic import make_synthetic_squad
    from qa_lightning.inference import Answerer, qa_pipeline

    out = tmp_path / "export"
    run_entry(
        "export.py",
        [f"run={research_run}", f"out={out}", "onnx=true", "imports=[my_research]"],
        tmp_path / "log",
        env=ENV,
    )
    examples = make_synthetic_squad(40, seed=10_000, id_prefix="syn-validation")
    items = [
        {"question": q, "context": c}
        for q, c in zip(examples["question"], examples["context"], strict=True)
    ]
    predictions = json.loads((research_run / "predictions.json").read_text())
    want = [predictions[i] for i in examples["id"]]
    assert [a["answer"] for a in Answerer.from_folder(str(out)).answer(items)] == want
    assert [a["answer"] for a in qa_pipeline(str(out))(items, batch_size=8)] == want
    onnx = Answerer.from_folder(str(out), backend="onnx").answer(items, batch_size=5)
    assert [a["answer"] for a in onnx] == want


BAD_TARGETS = {
    "model.head._target_=my_research.heads.NoSuchHead": (
        "model.head._target_='my_research.heads.NoSuchHead' cannot be imported"
    ),
    "model.head._target_=torch.nn.Linear": (
        "is not a span head: give a subclass of qa_lightning.models.heads.SpanHead"
    ),
    "+model.head.depth=2": "model.head.depth: PointerHead takes no 'depth'",
    "model.loss._target_=torch.nn.MSELoss": (
        "model.loss._target_='torch.nn.MSELoss' is not a span loss"
    ),
    "model._target_=pytorch_lightning.LightningModule": (
        "is not a LightningModule: give a subclass of qa_lightning.models.qa_module.QAModule"
    ),
    "+model.module_args.alpha=1": "model.module_args.alpha: RDropHeadModule takes no 'alpha'",
}


def _override(node: dict, override: str) -> None:
    key, value = override.lstrip("+").split("=", 1)
    *path, last = key.split(".")[1:]  # below model.
    for part in path:
        node = node.setdefault(part, {})
    node[last] = value


@pytest.mark.parametrize("override", list(BAD_TARGETS))
def test_a_bad_target_is_named_in_one_line(override):
    from qa_lightning.errors import ConfigError
    from qa_lightning.models.checks import check_model_components

    model = {
        "_target_": "my_research.modules.RDropHeadModule",
        "module_args": {},
        "head": {"_target_": "my_research.heads.PointerHead", "width": 16},
        "loss": {"_target_": "my_research.losses.LabelSmoothedSpanLoss"},
    }
    _override(model, override)
    with pytest.raises(ConfigError) as err:
        check_model_components(model)
    assert BAD_TARGETS[override] in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "override",
    [
        list(BAD_TARGETS)[0],
        *(pytest.param(o, marks=pytest.mark.slow) for o in list(BAD_TARGETS)[1:]),
    ],
)
def test_train_fails_on_a_bad_target_before_any_data_loads(tmp_path, tiny_bert_dir, override):
    cache = tmp_path / "cache"
    overrides = [f"model.name_or_path={tiny_bert_dir}", *SMALL_DATA, *RESEARCH, override]
    proc = run_entry(
        "train.py", [*overrides, f"paths.cache_dir={cache}"], tmp_path / "run", check=False, env=ENV
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert BAD_TARGETS[override] in proc.stderr.strip().splitlines()[-1], proc.stderr[-500:]
    assert not cache.exists()  # no features were built


def test_a_saved_folder_naming_a_forbidden_class_runs_nothing(tmp_path, tiny_bert_dir):
    from qa_lightning.errors import ConfigError
    from qa_lightning.models.head_module import HEAD_CONFIG, HeadQAModule, load_saved_head

    HeadQAModule(str(tiny_bert_dir), head="linear", freeze="all").save_pretrained(tmp_path)
    marker = tmp_path / "ran"
    for target in ("os.system", "subprocess.Popen", "builtins.exec"):
        settings = {
            "head": {"_target_": target, "hidden_size": f"touch {marker}"},
            "hidden_layer": -1,
        }
        (tmp_path / HEAD_CONFIG).write_text(json.dumps(settings))
        with pytest.raises(ConfigError, match=f"{target!r} is not a subclass of") as err:
            load_saved_head(tmp_path, 32)
        assert "\n" not in str(err.value)
    assert not marker.exists()


def test_a_checkpoint_naming_a_forbidden_module_class_runs_nothing(tmp_path, tiny_bert_dir):
    from omegaconf import OmegaConf

    from qa_lightning.cli.common import load_module
    from qa_lightning.errors import ConfigError
    from qa_lightning.models.qa_module import QAModule

    module = QAModule(str(tiny_bert_dir))
    checkpoint = {
        "state_dict": module.state_dict(),
        "hyper_parameters": dict(module.hparams),
        "pytorch-lightning_version": "2.6.0",
        "module_class": "os.system",
    }
    path = tmp_path / "forged.ckpt"
    torch.save(checkpoint, path)
    cfg = OmegaConf.create({"model": {"trust_remote_code": False}})
    with pytest.raises(ConfigError, match="'os.system' is not a subclass of"):
        load_module(cfg, str(path))


def test_old_checkpoints_and_saved_folders_with_named_heads_still_load(tmp_path, tiny_bert_dir):
    """Written before heads were nodes: ``head: "mlp"`` with ``head_args``, no class path."""
    from omegaconf import OmegaConf

    from qa_lightning.cli.common import load_module
    from qa_lightning.models.head_module import HEAD_CONFIG, HeadQAModule, load_saved_head

    args = {"dropout": 0.0, "hidden_size": 8, "num_layers": 1, "num_heads": 4}
    module = HeadQAModule(str(tiny_bert_dir), head="mlp", head_args=args, freeze="all").eval()
    batch = {
        "input_ids": torch.tensor([[2, 7, 8, 3, 9, 10, 3]]),
        "attention_mask": torch.ones(1, 7, dtype=torch.long),
    }
    with torch.no_grad():
        want = module(batch).start_logits

    hparams = {**dict(module.hparams), "head": "mlp", "head_args": args}
    old = {
        "state_dict": module.state_dict(),
        "hyper_parameters": hparams,
        "pytorch-lightning_version": "2.5.0",
    }
    torch.save(old, tmp_path / "old.ckpt")
    loaded = load_module(
        OmegaConf.create({"model": {"trust_remote_code": False}}), str(tmp_path / "old.ckpt")
    )
    assert type(loaded) is HeadQAModule
    with torch.no_grad():
        torch.testing.assert_close(loaded.eval()(batch).start_logits, want)

    module.save_pretrained(tmp_path / "old")
    (tmp_path / "old" / HEAD_CONFIG).write_text(
        json.dumps({"head": "mlp", "head_args": args, "hidden_layer": -1})
    )
    head, settings = load_saved_head(tmp_path / "old", module.model_config.hidden_size)
    assert settings["head"]["_target_"] == "qa_lightning.models.heads.MLPHead"
    with torch.no_grad():
        hidden = module.model.encode(batch["input_ids"], batch["attention_mask"])
        torch.testing.assert_close(head.eval()(hidden, batch["attention_mask"])[0], want)


def test_the_label_smoothed_loss_is_the_cross_entropy_at_zero_and_gives_padding_no_mass():
    from my_research.losses import LabelSmoothedSpanLoss

    from qa_lightning.models.heads import PAD_LOGIT
    from qa_lightning.models.losses import SpanCrossEntropy

    torch.manual_seed(0)
    start, end = torch.randn(4, 9), torch.randn(4, 9)
    mask = torch.ones(4, 9, dtype=torch.long)
    mask[:, 6:] = 0
    start, end = start.masked_fill(mask == 0, PAD_LOGIT), end.masked_fill(mask == 0, PAD_LOGIT)
    batch = {
        "attention_mask": mask,
        "start_positions": torch.tensor([1, 2, 0, 9]),
        "end_positions": torch.tensor([3, 2, 0, 9]),
    }
    plain = SpanCrossEntropy()(start, end, batch)
    torch.testing.assert_close(LabelSmoothedSpanLoss(0.0)(start, end, batch), plain)
    smoothed = LabelSmoothedSpanLoss(0.1)(start, end, batch)
    assert 0 < abs(smoothed - plain) < 1.0
    # torch's own label smoothing spreads mass onto padding's -1e4 logits
    inside = batch["start_positions"] < 9
    torch_smoothed = torch.nn.functional.cross_entropy(
        start[inside], batch["start_positions"][inside], label_smoothing=0.1
    )
    assert torch_smoothed > 100


@pytest.mark.slow
def test_a_sweep_over_two_custom_heads_is_compared(tmp_path, tiny_bert_dir):
    sweep = tmp_path / "sweep"
    cmd = [
        sys.executable,
        str(ROOT / "train.py"),
        "-m",
        f"model.name_or_path={tiny_bert_dir}",
        *SMALL_DATA,
        "data.synthetic.n_train=32",
        "data.synthetic.n_eval=8",
        *FP32,
        "trainer.max_epochs=1",
        "save_best_model=false",
        SEARCHPATH,
        "model.freeze=all",
        "model/head=pointer,linear",
        f"hydra.sweep.dir={sweep}",
        f"paths.cache_dir={tmp_path / 'cache'}",
    ]
    env = {**os.environ, **ENV, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    compare = [sys.executable, "-m", "qa_lightning.compare", str(sweep), "--no-plots"]
    proc = subprocess.run(compare, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "model/head" in proc.stdout and "pointer" in proc.stdout and "linear" in proc.stdout


def test_the_head_learns_at_its_own_rate(tiny_bert_dir):
    from my_research.param_groups import HeadLearningRate

    from qa_lightning.models.head_module import HeadQAModule

    module = HeadQAModule(str(tiny_bert_dir), head="linear", freeze="embeddings")
    groups = HeadLearningRate(head_scale=4.0)(module.model, lr=1e-3, weight_decay=0.01)
    head = {id(p) for p in module.model.head.parameters()}
    for group in groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1  # a group is all head or all encoder
        assert group["lr"] == pytest.approx(4e-3 if in_head == {True} else 1e-3)
    grouped = [id(p) for g in groups for p in g["params"]]
    trainable = [id(p) for p in module.model.parameters() if p.requires_grad]
    assert sorted(grouped) == sorted(trainable)  # every trainable parameter once, no frozen one


def test_the_readers_weight_column_reaches_the_batch_and_weighs_the_loss(
    tmp_path, wordpiece_tokenizer
):
    from my_research.losses import LabelSmoothedSpanLoss

    from qa_lightning.data.datamodule import SquadDataModule
    from tests.data.test_datamodule import data_cfg

    tsv = write_tsv(tmp_path / "train.tsv", 12)
    node = {"_target_": "my_research.readers.WeightedTsvReader", "path": str(tsv)}
    data = data_cfg(tmp_path, train_file=node, group_by_length=False)
    dm = SquadDataModule(data, wordpiece_tokenizer, seed=0)
    dm.prepare_data()
    dm.setup("fit")
    batch = next(iter(dm.train_dataloader()))
    assert batch["weight"].dtype == torch.float32 and set(batch["weight"].tolist()) <= {1.0, 2.0}

    torch.manual_seed(0)
    width = batch["input_ids"].shape[1]
    start, end = torch.randn(len(batch["weight"]), width), torch.randn(len(batch["weight"]), width)
    loss = LabelSmoothedSpanLoss(0.1)
    only_first = {**batch, "weight": torch.zeros_like(batch["weight"])}
    only_first["weight"][0] = 1.0
    first = {k: v[:1] for k, v in batch.items() if isinstance(v, torch.Tensor)}
    first["weight"] = torch.ones(1)
    torch.testing.assert_close(loss(start, end, only_first), loss(start[:1], end[:1], first))
