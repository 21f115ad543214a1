"""Static int8: fixed activation scales, so answers do not depend on the batch and windows
run batched; the record says how the graph was made."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime")  # the onnx extra

from qa_lightning.inference import Answerer  # noqa: E402
from tests.inference.test_answerer import _items  # noqa: E402
from tests.inference.test_onnx import SETTINGS  # noqa: E402


@pytest.fixture(scope="module")
def static_folder(tiny_bert_dir, tmp_path_factory) -> Path:
    from datasets import Dataset

    from qa_lightning.inference.answerer import with_saved_head
    from qa_lightning.inference.onnx_export import Calibration, export_onnx
    from qa_lightning.inference.static_int8 import calibration_windows
    from qa_lightning.models.loading import load_qa_model, load_tokenizer

    folder = tmp_path_factory.mktemp("static") / "bert"
    shutil.copytree(tiny_bert_dir, folder)
    SETTINGS.write(folder)
    tokenizer = load_tokenizer(str(folder))
    items = _items(40)
    encoded = tokenizer(
        [i["question"] for i in items],
        [i["context"] for i in items],
        truncation="only_second",
        max_length=SETTINGS.max_length,
    )
    names = ["input_ids", "attention_mask", "token_type_ids"]
    windows = calibration_windows(
        Dataset.from_dict({n: encoded[n] for n in names}), names, windows=35, seed=0
    )
    calibration = Calibration(windows, SETTINGS.max_length, {"data": "items", "seed": 0})
    model = with_saved_head(load_qa_model(str(folder)), folder)
    _, record = export_onnx(model, tokenizer, folder, quantize="static", calibration=calibration)
    assert record is not None and record.method == "static"  # what the file holds, handed back
    return folder


def test_the_record_says_static_and_what_it_was_calibrated_on(static_folder) -> None:
    import onnx

    record = json.loads((static_folder / "onnx" / "quantization.json").read_text())
    assert record["method"] == "static"
    # 35 sampled, in whole calibration batches of 8
    assert record["calibration"] == {"data": "items", "seed": 0, "windows": 32, "padded_to": 64}
    graph = onnx.load(str(static_folder / "onnx" / "model_quantized.onnx")).graph
    ops = [node.op_type for node in graph.node]
    assert "QLinearMatMul" in ops
    # the feed-forward output projections stay fp32, by name
    kept = {node.name for node in graph.node if node.op_type == "MatMul"}
    assert record["fp32_nodes"] and set(record["fp32_nodes"]) <= kept


def test_static_int8_answers_do_not_depend_on_the_batch_and_run_batched(static_folder) -> None:
    answerer = Answerer.from_folder(str(static_folder), backend="onnx", quantized=True)
    assert answerer.model.per_window is False  # fixed scales: windows run together
    items = _items(9)
    alone = answerer.answer(items, batch_size=1)
    for batch_size in (4, 9):
        assert answerer.answer(items, batch_size=batch_size) == alone
    assert answerer.answer(items[::-1], batch_size=9) == alone[::-1]
    for answer, item in zip(alone, items, strict=True):
        assert item["context"][answer["start"] : answer["end"]] == answer["answer"]


def test_dynamic_and_older_int8_exports_run_window_by_window(static_folder, tmp_path) -> None:
    from qa_lightning.inference.onnx_runner import is_static_int8
    from qa_lightning.inference.static_int8 import DYNAMIC

    assert is_static_int8(static_folder)
    folder = tmp_path / "dyn"
    (folder / "onnx").mkdir(parents=True)
    DYNAMIC.write(folder / "onnx")
    assert not is_static_int8(folder)
    (folder / "onnx" / "quantization.json").unlink()  # an export from before the record
    assert not is_static_int8(folder)
