"""Data readers: MRQA, a researcher's reader through a config node, checked targets, and
the feature cache keyed on what a reader reads (an edited file rebuilds its features)."""

from __future__ import annotations

import json
import re
import string
from collections import Counter
from pathlib import Path

import pytest
import torch

from qa_lightning.data import MrqaReader, Reader
from qa_lightning.data.checks import SOURCES, check_data
from qa_lightning.data.datamodule import SquadDataModule
from qa_lightning.data.loading import check_readers, data_sets, path_reader
from qa_lightning.data.synthetic import make_synthetic_squad
from qa_lightning.data.validation import COLUMNS, DataValidationError
from qa_lightning.errors import ConfigError
from qa_lightning.evaluation import squad_scores
from tests.data.test_datamodule import data_cfg

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "mrqa" / "NewsQA_sample.jsonl"


# -- the official MRQA scoring rules, written out from the script (not our scorer) ----------
def _official_normalize(s: str) -> str:
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _official_f1(prediction: str, truth: str) -> float:
    p, t = _official_normalize(prediction).split(), _official_normalize(truth).split()
    common = Counter(p) & Counter(t)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(p), same / len(t)
    return 2 * precision * recall / (precision + recall)


def official_mrqa_scores(path: Path, predictions: dict[str, str]) -> dict[str, float]:
    """mrqa_official_eval.py: read qid -> answers (header skipped), max over answers."""
    answers = {}
    for i, line in enumerate(path.read_text().splitlines()):
        example = json.loads(line)
        if i == 0 and "header" in example:
            continue
        for qa in example["qas"]:
            answers[qa["qid"]] = qa["answers"]
    em = f1 = 0.0
    for qid, truths in answers.items():
        pred = predictions[qid]
        em += max(float(_official_normalize(pred) == _official_normalize(t)) for t in truths)
        f1 += max(_official_f1(pred, t) for t in truths)
    return {"exact": 100 * em / len(answers), "f1": 100 * f1 / len(answers)}


# -- a small MRQA file ---------------------------------------------------------------------
CONTEXT = "Alice met Bob in Paris. Later, alice and Bob left Paris for Rome."


def qa(qid: str, question: str, answers: list[str], spans: list[tuple[str, list]]) -> dict:
    detected = [{"text": t, "char_spans": s, "token_spans": []} for t, s in spans]
    return {"qid": qid, "question": question, "answers": answers, "detected_answers": detected}


def write_mrqa(path: Path, lines: list[dict], *, header: bool = True) -> Path:
    rows = ([{"header": {"dataset": "Tiny", "split": "dev"}}] if header else []) + lines
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def tiny_mrqa(path: Path, *, bad: bool = False) -> Path:
    first = {
        "context": CONTEXT,
        "qas": [
            qa("q1", "Where did they meet?", ["Paris"], [("Paris", [[17, 21], [50, 54]])]),
            # the first detected occurrence (lower case) trains; the alias is scored only
            qa(
                "q2",
                "Who met Bob?",
                ["Alice", "alice", "Queen Alice"],
                [("alice", [[31, 35]]), ("Alice", [[0, 4]])],
            ),
        ],
    }
    second = {
        "context": CONTEXT,
        "qas": [
            qa("q3", "Where did they go?", ["Rome"], [("Rome", [[60, 63]])]),
            qa("q4", "Who left?", ["Bob"], [("Bob", [[41, 43], [99, 120]] if bad else [[41, 43]])]),
        ],
    }
    return write_mrqa(path, [first, second])


def test_mrqa_maps_answers_so_the_official_maximum_is_kept(tmp_path: Path) -> None:
    ds = MrqaReader(str(tiny_mrqa(tmp_path / "tiny.jsonl"))).read()
    rows = {r["id"]: r for r in ds}
    assert list(rows) == ["q1", "q2", "q3", "q4"]
    assert rows["q1"]["title"] == "Tiny" and rows["q1"]["context"] == CONTEXT
    assert rows["q1"]["answers"] == {"text": ["Paris"], "answer_start": [17]}
    # first detected occurrence first (the training span), the alias kept for scoring
    assert rows["q2"]["answers"] == {"text": ["alice", "Queen Alice"], "answer_start": [31, -1]}
    assert rows["q3"]["answers"]["answer_start"] == [60]  # inclusive [60, 63] is "Rome"


def test_mrqa_scores_equal_the_official_script(tmp_path: Path) -> None:
    path = tiny_mrqa(tmp_path / "tiny.jsonl")
    ds = MrqaReader(str(path)).read()
    predictions = {
        "gold": {"q1": "Paris", "q2": "Alice", "q3": "Rome", "q4": "Bob"},
        # "Queen" overlaps only the alias, which the context does not hold
        "perturbed": {"q1": "in Paris.", "q2": "Queen", "q3": "Rome Paris", "q4": "met"},
    }
    for name, preds in predictions.items():
        ours = squad_scores(ds, preds, version_2=False)
        official = official_mrqa_scores(path, preds)
        assert ours["exact"] == pytest.approx(official["exact"]), name
        assert ours["f1"] == pytest.approx(official["f1"]), name
    assert official_mrqa_scores(path, predictions["perturbed"])["f1"] > 0


def test_a_bad_mrqa_record_names_the_file_line_and_qid(tmp_path: Path, caplog) -> None:
    path = tiny_mrqa(tmp_path / "bad.jsonl", bad=True)
    with pytest.raises(DataValidationError) as err:
        MrqaReader(str(path)).read()
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and "'q4'" in message and "line 3" in message
    assert "char_spans" in message and "[99, 120]" in message

    dropped = MrqaReader(str(path), on_bad_record="drop").read()
    assert dropped["id"] == ["q1", "q2", "q3"]
    assert "dropped 1 of 4 records (answer_start_out_of_range=1)" in caplog.text


def test_an_mrqa_answer_absent_from_its_context_is_a_bad_record(tmp_path: Path) -> None:
    line = {"context": CONTEXT, "qas": [qa("q9", "Who?", ["Carol"], [])]}
    path = write_mrqa(tmp_path / "absent.jsonl", [line], header=False)
    with pytest.raises(DataValidationError, match=r"record id 'q9' \(line 1, qas\[0\]\).*Carol"):
        MrqaReader(str(path)).read()


def test_a_jsonl_path_starting_with_an_mrqa_line_is_read_as_mrqa(tmp_path: Path) -> None:
    mrqa = tiny_mrqa(tmp_path / "a.jsonl")
    line = json.loads(mrqa.read_text().splitlines()[1])
    no_header = write_mrqa(tmp_path / "b.jsonl", [line], header=False)
    flat = tmp_path / "c.jsonl"
    flat.write_text(json.dumps({"id": "1", "question": "q", "context": "c"}) + "\n")
    assert path_reader(str(mrqa))["_target_"].endswith("MrqaReader")
    assert path_reader(str(no_header))["_target_"].endswith("MrqaReader")
    assert path_reader(str(flat))["_target_"].endswith("FlatFileReader")
    assert path_reader(str(tmp_path / "d.json"))["_target_"].endswith("SquadJsonReader")


@pytest.mark.skipif(not SAMPLE.is_file(), reason="the shared MRQA sample is absent")
def test_the_real_newsqa_sample_reads_and_scores_as_the_official_script() -> None:
    ds = MrqaReader(str(SAMPLE)).read()
    raw = [json.loads(line) for line in SAMPLE.read_text().splitlines()]
    qids = [q["qid"] for row in raw if "qas" in row for q in row["qas"]]
    assert ds["id"] == qids and len(qids) >= 10
    for row in ds:  # every training span is where the file says
        start, text = row["answers"]["answer_start"][0], row["answers"]["text"][0]
        assert row["context"][start : start + len(text)] == text
    gold = {r["id"]: r["answers"]["text"][0] for r in ds}
    perturbed = {qid: text.split()[0] + " news" for qid, text in gold.items()}
    for preds in (gold, perturbed):
        ours = squad_scores(ds, preds, version_2=False)
        official = official_mrqa_scores(SAMPLE, preds)
        assert ours["exact"] == pytest.approx(official["exact"])
        assert ours["f1"] == pytest.approx(official["f1"])
    assert squad_scores(ds, gold, version_2=False)["exact"] == 100.0


# -- a researcher's reader, through a config node ------------------------------------------
class WeightedJsonlReader(Reader):
    """One record per line with a per-example ``weight`` that travels to the batch."""

    extra_columns = ("weight",)

    def __init__(self, path: str, scale: float = 1.0):
        self.path, self.scale = path, scale

    def read(self):
        rows = [json.loads(line) for line in Path(self.path).read_text().splitlines()]
        records = {k: [r[k] for r in rows] for k in ("id", "title", "context", "question")}
        records["answers"] = [r["answers"] for r in rows]
        records["weight"] = [r["weight"] * self.scale for r in rows]
        locations = [f"line {i + 1}" for i in range(len(rows))]
        return self.examples(records, source=self.path, locations=locations)


def write_weighted(path: Path, n: int, seed: int) -> Path:
    examples = make_synthetic_squad(n, seed=seed, id_prefix=path.stem)
    with open(path, "w") as f:
        for i, row in enumerate(examples):
            f.write(json.dumps({**row, "weight": float(i % 3)}) + "\n")
    return path


def node(path: Path, **kwargs) -> dict:
    return {"_target_": f"{__name__}.WeightedJsonlReader", "path": str(path), **kwargs}


def test_a_custom_reader_node_feeds_the_datamodule_and_its_column_reaches_the_batch(
    tmp_path: Path, wordpiece_tokenizer
) -> None:
    train = write_weighted(tmp_path / "train.jsonl", 24, seed=3)
    dev = write_weighted(tmp_path / "dev.jsonl", 12, seed=4)
    cfg = data_cfg(
        tmp_path, source="flat", train_file=node(train, scale=2.0), validation_file=node(dev)
    )
    check_readers(cfg, task="train")
    dm = SquadDataModule(cfg, wordpiece_tokenizer, seed=1)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.eval_examples["id"] == [f"dev-{i}" for i in range(12)]
    examples, features = dm.examples("train"), dm.train_features
    assert examples["weight"] == [2.0 * (i % 3) for i in range(24)]
    assert features["weight"] == [examples["weight"][i] for i in features["example_index"]]
    batch = next(iter(dm.train_dataloader()))
    assert batch["weight"].dtype == torch.float32
    expected = [features["weight"][i] for i in batch["feature_index"].tolist()]
    assert batch["weight"].tolist() == expected


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"_target_": "no_such_pkg.Reader", "path": "x"}, "cannot be imported"),
        ({"_target_": "collections.OrderedDict"}, "is not a data reader"),
        ({"_target_": f"{__name__}.WeightedJsonlReader", "path": "x", "bogus": 1}, "bogus"),
    ],
    ids=["missing module", "not a Reader", "unknown key"],
)
@pytest.mark.parametrize("where", ["train_file", "eval_set"])
def test_a_bad_reader_target_fails_in_one_line_naming_its_key_before_reading(
    tmp_path: Path, wordpiece_tokenizer, spec: dict, expected: str, where: str
) -> None:
    if where == "train_file":
        cfg, key = data_cfg(tmp_path, train_file=spec), "data.train_file"
    else:
        cfg, key = data_cfg(tmp_path, eval_sets={"mine": spec}), "data.eval_sets.mine"
    for attempt in (
        lambda: check_readers(cfg, task="train"),
        lambda: SquadDataModule(cfg, wordpiece_tokenizer),
    ):
        with pytest.raises(ConfigError) as err:
            attempt()
        message = str(err.value)
        assert message.startswith(key) and expected in message and "\n" not in message
    assert not (tmp_path / "features").exists()  # nothing was read or cached


def test_every_data_source_is_a_built_in_reader_and_another_fails_in_one_line(
    tmp_path: Path,
) -> None:
    """``data.source`` is a plain string: each name of SOURCES builds its own reader's node;
    an unknown name is refused by the start check, and by the loader for a caller that
    skipped it."""
    files = {"train_file": str(tmp_path / "t.json"), "validation_file": str(tmp_path / "v.json")}
    targets = set()
    for source in SOURCES:
        cfg = data_cfg(tmp_path, source=source, hub_name="user/squad", **files)
        targets.add(data_sets(cfg)["train"]["reader"]["_target_"])
    assert len(targets) == len(SOURCES)
    cfg = data_cfg(tmp_path, source="bogus")
    message = "data.source='bogus'; use one of hub, squad_json, flat, mrqa, synthetic"
    for attempt in (lambda: check_data(cfg, task="train"), lambda: data_sets(cfg)):
        with pytest.raises(ConfigError) as err:
            attempt()
        assert str(err.value) == message


# -- an edited data file rebuilds its features ---------------------------------------------
def _squad_json(path: Path, examples) -> Path:
    paragraphs = [
        {
            "context": r["context"],
            "qas": [
                {
                    "id": r["id"],
                    "question": r["question"],
                    "answers": [
                        {"text": t, "answer_start": s}
                        for t, s in zip(
                            r["answers"]["text"], r["answers"]["answer_start"], strict=True
                        )
                    ],
                }
            ],
        }
        for r in examples
    ]
    path.write_text(
        json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paragraphs}]})
    )
    return path


@pytest.mark.parametrize("kind", ["squad_json", "mrqa", "custom reader node"])
def test_an_edited_data_file_rebuilds_its_features(
    tmp_path: Path, wordpiece_tokenizer, kind: str
) -> None:
    examples = make_synthetic_squad(20, seed=5, id_prefix="e")
    if kind == "squad_json":
        path = _squad_json(tmp_path / "train.json", examples)
        cfg = data_cfg(
            tmp_path, source="squad_json", train_file=str(path), validation_file=str(path)
        )
    elif kind == "mrqa":
        path = tiny_mrqa(tmp_path / "train.jsonl")
        cfg = data_cfg(tmp_path, source="mrqa", train_file=str(path), validation_file=str(path))
    else:
        path = write_weighted(tmp_path / "train.jsonl", 20, seed=5)
        cfg = data_cfg(tmp_path, source="flat", train_file=node(path), validation_file=node(path))

    def build() -> SquadDataModule:
        dm = SquadDataModule(cfg, wordpiece_tokenizer, seed=1)
        dm.prepare_data()
        dm.setup("fit")
        return dm

    first = build()
    old_answer = first.examples("train")[0]["answers"]["text"][0]
    text = path.read_text()
    # the same length, so offsets stay valid: only the content changes
    new_answer = old_answer.swapcase() if old_answer.swapcase() != old_answer else old_answer[::-1]
    assert text.count(old_answer) >= 1
    path.write_text(text.replace(old_answer, new_answer))

    again = build()
    assert again.cache_key("train") != first.cache_key("train")
    assert again.examples("train")[0]["answers"]["text"][0] == new_answer
    assert again.cache_path("train").is_dir() and first.cache_path("train").is_dir()
    # nothing edited: the entry is found again, not rebuilt
    assert build().cache_key("train") == again.cache_key("train")


def test_a_reader_identity_is_plain_data_with_the_files_content(tmp_path: Path) -> None:
    path = tiny_mrqa(tmp_path / "a.jsonl")
    identity = MrqaReader(str(path), on_bad_record="drop").identity()
    assert json.loads(json.dumps(identity)) == identity
    assert identity["reader"] == "qa_lightning.data.mrqa.MrqaReader"
    assert identity["on_bad_record"] == "drop" and list(identity["arguments"]) == ["path"]
    (digest,) = identity["files"]
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    # the content, not the path, names the file: a copy elsewhere has the same identity
    copy = tmp_path / "elsewhere" / "b.jsonl"
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())
    assert MrqaReader(str(copy), on_bad_record="drop").identity() == identity


class ListReader(Reader):
    """A reader that builds its dataset itself (not with ``self.examples``)."""

    def __init__(self, rows: list):
        self.rows = rows

    def read(self):
        from datasets import Dataset

        return Dataset.from_list(self.rows)


def test_a_dataset_a_reader_built_itself_is_checked_record_by_record() -> None:
    good = {"id": "a", "title": "", "context": "Ann met Bo.", "question": "Who?"}
    rows = [
        {**good, "answers": {"text": ["Ann"], "answer_start": [0]}, "junk": 1},
        {**good, "id": "b", "answers": {"text": ["Bo"], "answer_start": [0]}, "junk": 2},
    ]
    with pytest.raises(DataValidationError, match=r"^data\.train_file: record id 'b'.*'Bo'"):
        ListReader(rows).load(source="data.train_file")
    reader = ListReader(rows)
    reader.on_bad_record = "drop"
    kept = reader.load(source="data.train_file")
    assert kept["id"] == ["a"] and kept.column_names == list(COLUMNS)  # undeclared: dropped
