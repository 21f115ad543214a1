"""Distributed evaluation through the real entry points: 2 CPU processes (gloo, ``ddp``).

Validating on 2 processes must give the files that 1 process gives: the features are
sharded by Lightning's DistributedSampler(Wrapper), which pads the last rank's share with a
repeated feature when their number is odd; ``QALogitsCollector`` gathers every rank's
logits and drops the repeats. Only rank 0 may write the run folder, each file once.

Every process of a run (rank 0 and the rank-1 child that Lightning's ``ddp`` launcher
starts) loads a ``sitecustomize`` that records, through a Python audit hook, each file it
opens for writing or renames into the run folder: who wrote what, and how often.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

TIMEOUT_S = 240  # a hung collective (one rank waiting forever) fails instead of blocking
N_EVAL = 31  # 253 (v1) / 345 (v2) validation features: odd, so the DistributedSampler pads
N_EXTRA = 26  # an extra evaluation set, also of an odd number of features
V1_DATA = [
    "data=synthetic",
    "data.synthetic.n_train=120",
    f"data.synthetic.n_eval={N_EVAL}",
    "data.max_length=96",
    "data.doc_stride=32",
    "data.batch_size=16",
]
V2_DATA = [*V1_DATA, "data.version_2=true", "data.synthetic.unanswerable_fraction=0.4"]
QUESTION_IDS = sorted(f"syn-validation-{i}" for i in range(N_EVAL))
DDP = ["trainer.accelerator=cpu", "trainer.devices=2", "trainer.strategy=ddp"]
ONE = ["trainer.accelerator=cpu", "trainer.devices=1"]
EVAL_FILES = ("predictions.json", "nbest_predictions.json", "metrics.json")
EXTRA_FILES = ("predictions.json", "per_question.jsonl")
# metrics.json fields that describe the run, not the scores
RUN_FIELDS = {"status", "split", "epoch", "global_step", "best_checkpoint", "train_features"}

AUDIT_SITE = """
import json, os, sys

_root, _log = os.environ.get("QA_AUDIT_ROOT"), os.environ.get("QA_AUDIT_LOG")
if _root and _log:
    _root = os.path.abspath(_root)
    _fd = os.open(_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    _WRITES = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC

    def _emit(**record):  # os.write raises no audit event: no recursion
        record.update(pid=os.getpid(), rank=os.environ.get("LOCAL_RANK"))
        os.write(_fd, (json.dumps(record) + "\\n").encode())

    def _in_root(path):
        if isinstance(path, (str, bytes, os.PathLike)):
            path = os.path.abspath(os.fsdecode(path))
            if path.startswith(_root + os.sep):
                return os.path.relpath(path, _root)
        return None

    def _hook(event, args):
        if event == "open":
            path, mode, flags = args
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else flags & _WRITES
            if writes and _in_root(path):
                _emit(event="open", path=_in_root(path))
        elif event == "os.rename" and _in_root(args[1]):
            _emit(event="rename", path=_in_root(args[1]))

    _emit(event="start", ppid=os.getppid())
    sys.addaudithook(_hook)
"""


@dataclass
class Run:
    run_dir: Path
    pid: int  # the entry point's process: rank 0
    output: str
    audit: list[dict]

    def json(self, name: str):
        return json.loads((self.run_dir / name).read_text())

    @property
    def children(self) -> list[dict]:
        """Processes the run started itself (Lightning's ``ddp`` launcher: rank 1)."""
        return [r for r in self.audit if r["event"] == "start" and r["ppid"] == self.pid]

    def writers(self) -> dict[str, set[int]]:
        """Run-folder file -> pids that opened it for writing or renamed onto it."""
        out: dict[str, set[int]] = {}
        for r in self.audit:
            if r["event"] in ("open", "rename"):
                out.setdefault(r["path"], set()).add(r["pid"])
        return out

    def landings(self, name: str) -> int:
        """How often a complete ``name`` appeared: atomic renames onto it, else opens."""
        renames = sum(r["event"] == "rename" and r["path"] == name for r in self.audit)
        return renames or sum(r["event"] == "open" and r["path"] == name for r in self.audit)


def run_audited(
    script: str, overrides: list[str], run_dir: Path, cache: Path, audit_root: Path | None = None
) -> Run:
    """Run ``script``; every write under ``audit_root`` (default: the run folder) is recorded."""
    site = run_dir.parent / f"{run_dir.name}-site"
    site.mkdir(parents=True)
    (site / "sitecustomize.py").write_text(AUDIT_SITE)
    audit_log = run_dir.parent / f"{run_dir.name}-audit.jsonl"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        TOKENIZERS_PARALLELISM="false",
        # one thread per process: 1 and 2 processes then run the same kernels, and two
        # ranks do not fight over 2 cores (Lightning would pick this for ddp anyway)
        OMP_NUM_THREADS="1",
        PYTHONPATH=os.pathsep.join(filter(None, [str(site), str(ROOT), env.get("PYTHONPATH")])),
        QA_AUDIT_ROOT=str(audit_root or run_dir),
        QA_AUDIT_LOG=str(audit_log),
    )
    cmd = [
        sys.executable,
        str(ROOT / script),
        *overrides,
        "logger=csv",
        f"hydra.run.dir={run_dir}",
        f"paths.cache_dir={cache}",
    ]
    # its own session: a hang kills rank 0 and the rank it launched, nothing else
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = proc.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        raise AssertionError(f"{script} hung for {TIMEOUT_S}s:\n{output[-5000:]}") from None
    if proc.returncode != 0:
        raise AssertionError(f"{script} failed ({proc.returncode}):\n{output[-6000:]}")
    audit = [json.loads(line) for line in audit_log.read_text().splitlines()]
    return Run(run_dir, proc.pid, output, audit)


def validation_feature_count(cache: Path, split: str = "validation") -> int:
    from datasets import load_from_disk

    (entry,) = (cache / "features").glob(f"{split}-*")
    return load_from_disk(str(entry / "features")).num_rows


def write_extra_set(path: Path, n: int) -> Path:
    """A flat evaluation set of ``n`` synthetic questions (other contexts than validation)."""
    from qa_lightning.data.synthetic import make_synthetic_squad

    with open(path, "w") as f:
        for row in make_synthetic_squad(n, seed=99, id_prefix="extra"):
            f.write(json.dumps(row) + "\n")
    return path


def assert_written_by_rank_zero_only(run: Run, *, distributed: bool) -> None:
    """Rank 0 writes every run-folder file; rank 1 no more than its own Hydra log."""
    assert not list(run.run_dir.rglob("*.partial")), "a half-written file was left behind"
    if distributed:
        (rank1,) = run.children  # the ddp launcher started exactly one more process
        assert rank1["rank"] == "1"
    else:
        assert run.children == []
    for path, pids in run.writers().items():
        if pids != {run.pid}:
            assert path.endswith(".log") and "process_1" in path, (path, pids)


def assert_nbest_equal(a: dict, b: dict, *, float_tol: float) -> None:
    """Same candidates (text, offsets, order) for every question; float fields within
    ``float_tol`` (0: identical)."""
    assert a.keys() == b.keys()
    for qid in a:
        assert len(a[qid]) == len(b[qid]), qid
        for x, y in zip(a[qid], b[qid], strict=True):
            assert x.keys() == y.keys(), qid
            for key in x:
                if isinstance(x[key], float) and float_tol:
                    assert x[key] == pytest.approx(y[key], abs=float_tol), (qid, key)
                else:
                    assert x[key] == y[key], (qid, key)


def test_two_process_eval_gives_the_one_process_files(tmp_path: Path, tiny_bert_dir: Path) -> None:
    """eval.py of one saved model on two sets, 1 process then 2, batches of 4 (v1)."""
    cache = tmp_path / "cache"
    extra = write_extra_set(tmp_path / "extra.jsonl", N_EXTRA)
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *V1_DATA,
        "data.eval_batch_size=4",
        f"+data.eval_sets.extra={extra}",
    ]
    one = run_audited("eval.py", [*overrides, *ONE], tmp_path / "one", cache)
    # the second run reads the first's cached features: the same table, row for row
    two = run_audited("eval.py", [*overrides, *DDP], tmp_path / "two", cache)

    n_features = validation_feature_count(cache)
    assert n_features % 2 == 1, n_features  # the last rank's share is padded with a repeat
    assert n_features > 4 * N_EVAL  # several windows per example, gathered from both ranks
    assert validation_feature_count(cache, "extra") % 2 == 1

    for run in (one, two):
        assert_written_by_rank_zero_only(run, distributed=run is two)
        for name in (*EVAL_FILES, "config.yaml", *(f"eval/extra/{f}" for f in EXTRA_FILES)):
            assert run.landings(name) == 1, (name, run.landings(name))
    for name in EXTRA_FILES:  # every set: the same answers, records, slices, intervals
        if name.endswith(".json"):
            assert two.json(f"eval/extra/{name}") == one.json(f"eval/extra/{name}"), name
    assert two.json("metrics.json")["sets"]["extra"]["scores"]["total"] == N_EXTRA
    metrics = two.json("metrics.json")
    # exact, f1, total (and the run's fields) equal; the selective numbers come from the
    # answers' probabilities, equal to ~1e-8 only (see the n-best below)
    selective = {name: s.pop("selective") for name, s in metrics["sets"].items()}
    expected = one.json("metrics.json")
    for name, s in expected["sets"].items():
        want, got = s.pop("selective"), selective[name]
        assert got.pop("aurc_ci") == pytest.approx(want.pop("aurc_ci"), abs=1e-6), name
        assert got == pytest.approx(want, abs=1e-6), name
    assert metrics == expected
    assert metrics["total"] == N_EVAL
    predictions = two.json("predictions.json")
    assert sorted(predictions) == QUESTION_IDS
    assert predictions == one.json("predictions.json")
    # A feature's logits depend on the batch it ran in (its padded width, its batch mates)
    # in the last bits of float32, in 1 process too (another eval_batch_size); the ranks'
    # batches hold other features than one process's: the same candidates in the same
    # order, their logits and probabilities equal to ~1e-8.
    nbest_one, nbest_two = one.json("nbest_predictions.json"), two.json("nbest_predictions.json")
    assert_nbest_equal(nbest_two, nbest_one, float_tol=1e-6)


def test_two_process_training_runs_and_its_validation_is_the_one_process_eval(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    """train.py on 2 processes (v2, one feature per eval batch) finishes with a complete run
    folder; eval.py of its best model on 1 process then gives the very same files: with
    the same forward passes on both sides, every float is equal too."""
    cache = tmp_path / "cache"
    # the briefly trained model's null odds lie around 0.2-0.5: with this threshold some
    # questions get an answer and some the empty one
    data = [*V2_DATA, "data.eval_batch_size=1", "data.null_score_diff_threshold=0.4"]
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *data,
        "optimizer.lr=5e-4",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=6",
        *DDP,
    ]
    run = run_audited("train.py", overrides, tmp_path / "run", cache)
    assert validation_feature_count(cache) % 2 == 1
    assert_written_by_rank_zero_only(run, distributed=True)
    assert run.landings("config.yaml") == 1

    metrics = run.json("metrics.json")
    assert metrics["status"] == "completed" and metrics["split"] == "validation"
    assert metrics["total"] == N_EVAL
    assert metrics["HasAns_total"] + metrics["NoAns_total"] == N_EVAL
    assert metrics["NoAns_total"] > 0 and "best_f1_thresh" in metrics
    assert 0.0 <= metrics["exact"] <= metrics["f1"] <= 100.0
    assert metrics["train_features"] > 0 and metrics["train_features_per_second"] > 0
    assert Path(metrics["best_checkpoint"]).is_file()
    predictions = run.json("predictions.json")
    assert sorted(predictions) == QUESTION_IDS  # one answer per question
    nbest = run.json("nbest_predictions.json")
    assert all(predictions[q] in {c["text"] for c in nbest[q]} for q in QUESTION_IDS)
    assert sorted(run.json("null_odds.json")) == QUESTION_IDS
    assert (run.run_dir / "best_model" / "model.safetensors").is_file()
    assert "val/f1" in (run.run_dir / "csv" / "metrics.csv").read_text()  # rank 0's log

    one = run_audited(
        "eval.py",
        [f"model.name_or_path={run.run_dir / 'best_model'}", *data, *ONE],
        tmp_path / "one",
        cache,
    )
    assert_written_by_rank_zero_only(one, distributed=False)
    scores = one.json("metrics.json")
    assert {k: metrics[k] for k in scores if k not in RUN_FIELDS} == {
        k: v for k, v in scores.items() if k not in RUN_FIELDS
    }
    for name in ("predictions.json", "nbest_predictions.json", "null_odds.json"):
        assert run.json(name) == one.json(name), name


@pytest.mark.slow  # ~22 s; tests/data/test_cache_locks.py builds an entry from 3 processes
def test_two_process_training_builds_the_encoder_cache_once(
    tmp_path: Path, tiny_bert_dir: Path
) -> None:
    """A frozen-encoder head on 2 processes: both ranks need the encoder's states of the
    train and validation features as their loaders are made; one builds each entry (under
    the entry lock), the other waits and reads it; then the run validates and finishes."""
    cache = tmp_path / "cache"
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        "model.head=linear",
        "model.freeze=all",
        "model.encoder_cache=true",
        *V1_DATA,
        "optimizer.lr=1e-3",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=4",
        *DDP,
    ]
    run = run_audited("train.py", overrides, tmp_path / "run", cache, audit_root=cache)
    entries = sorted(p.name for p in (cache / "encoder").iterdir() if not p.name.startswith("."))
    assert [e.split("-")[0] for e in entries] == ["train", "validation"]
    for entry in entries:  # each renamed into place once, by one process
        assert run.landings(f"encoder/{entry}") == 1, entry
        assert len(run.writers()[f"encoder/{entry}"]) == 1, entry
    (rank1,) = run.children
    waited = run.output.count("Waiting for another process to finish building")
    assert waited >= 1, run.output[-3000:]  # the other rank did ask for an entry being built
    metrics = run.json("metrics.json")
    assert metrics["status"] == "completed" and metrics["total"] == N_EVAL
    assert rank1["rank"] == "1"


def _train_order(folder: Path, rank: int) -> dict[int, list[int]]:
    """epoch -> the feature indices a rank trained on, in order."""
    order: dict[int, list[int]] = {}
    for line in (folder / f"rank{rank}.jsonl").read_text().splitlines():
        record = json.loads(line)
        order.setdefault(record["epoch"], []).extend(record["features"])
    return order


@pytest.mark.slow  # two trainings, one on 2 processes (~30 s)
def test_two_process_epochs_shard_the_one_process_order(tmp_path: Path, tiny_bert_dir: Path):
    """Each epoch draws a new order from (seed, epoch), and 2 processes train on the very
    order 1 process trains on, dealt out in turn (rank 0 the 1st, 3rd ... feature). This
    rests on Lightning forwarding set_epoch through its distributed sampler wrapper, which
    it does from 2.6 on (the version pyproject.toml requires)."""
    overrides = [
        f"model.name_or_path={tiny_bert_dir}",
        *V1_DATA,
        "data.synthetic.n_train=40",
        "data.batch_size=4",
        "data.group_by_length=false",  # whole epochs shuffled: orders differ everywhere
        "trainer.max_epochs=2",
        "save_best_model=false",
        "+callbacks.extra.order._target_=tests.cli.recorders.TrainOrder",
    ]
    cache = tmp_path / "cache"
    one_dir, two_dir = tmp_path / "order-one", tmp_path / "order-two"
    run_audited(
        "train.py",
        [*overrides, f"+callbacks.extra.order.folder={one_dir}", *ONE],
        tmp_path / "one",
        cache,
    )
    run_audited(
        "train.py",
        [*overrides, f"+callbacks.extra.order.folder={two_dir}", *DDP],
        tmp_path / "two",
        cache,
    )
    one = _train_order(one_dir, 0)
    ranks = [_train_order(two_dir, 0), _train_order(two_dir, 1)]
    assert sorted(one) == [0, 1] and one[0] != one[1]
    assert sorted(one[0]) == sorted(one[1])  # every feature once per epoch
    for epoch in (0, 1):
        dealt = [f for pair in zip(ranks[0][epoch], ranks[1][epoch], strict=True) for f in pair]
        # an odd count: the last rank's share is padded with the epoch's first feature
        assert dealt[: len(one[epoch])] == one[epoch], epoch
        assert ranks[0][epoch] != ranks[0][1 - epoch]


def _compose(config_name: str, overrides: list[str]):
    from hydra import compose, initialize_config_dir

    from qa_lightning.config import register_configs

    register_configs()
    paths = [f"paths.root_dir={ROOT}", "paths.output_dir=/tmp/qa-lightning-test"]
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        return compose(config_name=config_name, overrides=[*overrides, *paths])


@pytest.mark.parametrize("strategy", ["ddp_spawn", "ddp_fork", "ddp_notebook"])
@pytest.mark.parametrize("config_name", ["train", "eval"])
def test_child_process_strategies_are_refused_in_one_line(config_name: str, strategy: str) -> None:
    """Their ranks run in child processes whose predictions never reach the entry point
    (eval.py failed once it had validated; train.py in its final validation, after the
    training, on the CSV log that two spawns had written): refused before any work."""
    from qa_lightning.cli.checks import check_run
    from qa_lightning.config import ConfigError

    check_run(_compose(config_name, ["trainer=ddp"]), config_name)  # ddp is the supported way
    cfg = _compose(config_name, ["trainer=ddp", f"trainer.strategy={strategy}"])
    with pytest.raises(ConfigError, match=f"trainer.strategy={strategy} .* trainer.strategy=ddp"):
        check_run(cfg, config_name)
