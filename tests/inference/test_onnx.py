"""ONNX export and the onnx backend: the graph answers as the torch model does.

Three kinds of folder: a BERT QA model (token_type_ids, fused attention made quantizable),
a RoBERTa one (no token_type_ids) and a frozen encoder with one of our heads saved beside it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")  # the onnx extra

from qa_lightning.errors import ConfigError  # noqa: E402
from qa_lightning.inference import Answerer, DecodingSettings, qa_pipeline  # noqa: E402
from tests.inference.test_answerer import _items  # noqa: E402

SETTINGS = DecodingSettings(max_length=64, doc_stride=16, max_answer_length=8)


def _export(folder: Path) -> dict[str, float]:
    from qa_lightning.inference.answerer import with_saved_head
    from qa_lightning.inference.onnx_export import export_onnx
    from qa_lightning.models.loading import load_qa_model, load_tokenizer

    SETTINGS.write(folder)
    model = with_saved_head(load_qa_model(str(folder)), folder)
    differences, _ = export_onnx(model, load_tokenizer(str(folder)), folder, quantize="dynamic")
    return differences


@pytest.fixture(scope="module")
def exported(tiny_bert_dir, tiny_roberta_dir, tmp_path_factory) -> dict[str, Path]:
    from qa_lightning.models.head_module import HeadQAModule
    from qa_lightning.models.loading import load_tokenizer

    root = tmp_path_factory.mktemp("onnx")
    folders = {"bert": root / "bert", "roberta": root / "roberta", "head": root / "head"}
    shutil.copytree(tiny_bert_dir, folders["bert"])
    shutil.copytree(tiny_roberta_dir, folders["roberta"])
    # a frozen encoder with a (fresh) MLP head: transformers alone would load a random QA layer
    HeadQAModule(str(tiny_bert_dir), head="mlp", freeze="all").save_pretrained(folders["head"])
    load_tokenizer(str(tiny_bert_dir)).save_pretrained(folders["head"])
    for folder in folders.values():
        _export(folder)
    return folders


@pytest.mark.parametrize("kind", ["bert", "roberta", "head"])
def test_the_onnx_graph_answers_as_the_torch_model(exported, kind: str) -> None:
    folder = str(exported[kind])
    items = _items(9)
    want = Answerer.from_folder(folder).answer(items, batch_size=4)
    got = Answerer.from_folder(folder, backend="onnx").answer(items, batch_size=3)
    assert [g["answer"] for g in got] == [w["answer"] for w in want]
    assert [(g["start"], g["end"]) for g in got] == [(w["start"], w["end"]) for w in want]
    for g, w in zip(got, want, strict=True):
        assert g["score"] == pytest.approx(w["score"], abs=1e-4)
    # int8: answers may move, but each is a span of its own context
    for answer, item in zip(
        Answerer.from_folder(folder, backend="onnx", quantized=True).answer(items),
        items,
        strict=True,
    ):
        assert item["context"][answer["start"] : answer["end"]] == answer["answer"]


def test_the_int8_graph_quantizes_attention_and_dense_layers(exported) -> None:
    import onnx

    graph = onnx.load(str(exported["bert"] / "onnx" / "model_quantized.onnx")).graph
    ops = {node.op_type for node in graph.node}
    # the fused attention was made quantizable (packed weight, raw mask): QAttention
    assert {"QAttention", "MatMulInteger"} <= ops and "Attention" not in ops


def test_the_pipeline_runs_the_onnx_graph_and_answers_lists_in_batches(exported) -> None:
    folder = str(exported["head"])
    items = _items(6)
    torch_pipe = qa_pipeline(folder)
    one_by_one = [torch_pipe(**item) for item in items]
    batched = torch_pipe(items, batch_size=4)
    assert [b["answer"] for b in batched] == [o["answer"] for o in one_by_one]
    assert [b["score"] for b in batched] == pytest.approx([o["score"] for o in one_by_one])
    onnx_pipe = qa_pipeline(folder, backend="onnx")
    assert onnx_pipe(**items[0])["answer"] == one_by_one[0]["answer"]
    lists = onnx_pipe(
        question=[i["question"] for i in items], context=[i["context"] for i in items]
    )
    assert [a["answer"] for a in lists] == [o["answer"] for o in one_by_one]


def test_a_folder_without_graphs_is_one_line(tiny_bert_dir) -> None:
    with pytest.raises(ConfigError, match=r"onnx/model_quantized.onnx is missing.*quantize=true"):
        Answerer.from_folder(str(tiny_bert_dir), backend="onnx", quantized=True)
    with pytest.raises(
        ConfigError, match="quantized=true: the int8 graph is an export.s; use backend=onnx"
    ):
        Answerer.from_folder(str(tiny_bert_dir), quantized=True)


def test_int8_answers_do_not_depend_on_the_batch(exported) -> None:
    """Dynamic quantisation scales by the whole input's range: each window runs alone."""
    folder = str(exported["bert"])
    items = _items(9)
    answerer = Answerer.from_folder(folder, backend="onnx", quantized=True)
    alone = answerer.answer(items, batch_size=1)
    for batch_size in (4, 9):
        assert answerer.answer(items, batch_size=batch_size) == alone
    assert answerer.answer(items[::-1], batch_size=9) == alone[::-1]
