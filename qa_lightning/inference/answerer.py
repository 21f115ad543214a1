"""Answer a list of questions in batches with a saved model folder.

Windows are built in memory (``eval_windows``: no Arrow table, no progress bar), sorted by
length so each padded batch wastes little, and decoded by the evaluation's own
``postprocess``: a question gets the answer that eval.py would score.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from qa_lightning.data.features import count_windows, eval_windows
from qa_lightning.evaluation.postprocessing import postprocess
from qa_lightning.inference.onnx_runner import onnx_span_model
from qa_lightning.models.encoder_head import EncoderWithHead
from qa_lightning.models.float32_logits import float32_span_layer
from qa_lightning.models.head_module import load_saved_head
from qa_lightning.models.loading import load_qa_model, load_tokenizer
from qa_lightning.models.precision import FP32, answering_autocast, autocast_to
from qa_lightning.storage.decoding_file import DecodingSettings

log = logging.getLogger(__name__)


def answering_model(
    model: torch.nn.Module, folder: str | Path, settings: DecodingSettings
) -> torch.nn.Module:
    """``model`` as its run scored it: its span layer in float32 under autocast (as
    ``QAModule`` computes it), or the folder's own head on its encoder, fed states rounded
    as the run's encoder cache stored them."""
    float32_span_layer(model)
    dtype = getattr(torch, settings.encoder_states) if settings.encoder_states else None
    return with_saved_head(model, folder, states_dtype=dtype)


def fp32_for_onnx(settings: DecodingSettings, folder: str | Path) -> DecodingSettings:
    """An ONNX graph computes in its own fp32 or int8: no autocast reaches it."""
    if settings.precision != FP32:
        log.info(
            "%s was scored in %s; its ONNX graph computes in fp32 (or int8), so a few answers "
            "may differ from its card's",
            folder,
            settings.precision,
        )
    return replace(settings, precision=FP32)


def with_saved_head(
    model: torch.nn.Module, folder: str | Path, *, states_dtype: torch.dtype | None = None
) -> torch.nn.Module:
    """Our head on ``model``'s encoder when ``folder`` holds one of our heads (transformers
    then loaded an untrained, unused QA layer); else ``model`` itself."""
    loaded = load_saved_head(folder, model.config.hidden_size)
    if loaded is None:
        return model
    head, settings = loaded
    return EncoderWithHead(
        model.base_model,
        head,
        hidden_layer=settings["hidden_layer"],
        freeze="all",
        states_dtype=states_dtype,
    )


class Answerer:
    """``answer([{question, context}, ...])`` -> ``[{answer, score, start, end}, ...]``.

    Not thread-safe: one call at a time (the service runs it on one worker thread).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        settings: DecodingSettings,
        name: str = "",
        device: torch.device | str = "cpu",
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.name = name or type(model).__name__
        self.device = torch.device(device)
        self.autocast, self.why_not = answering_autocast(settings.precision, self.device.type)

    @classmethod
    def from_folder(
        cls,
        folder: str,
        *,
        backend: str = "torch",
        quantized: bool = False,
        threads: int | None = None,
        trust_remote_code: bool = False,
    ) -> Answerer:
        """``backend="onnx"``: the folder's ``onnx/model.onnx`` (``quantized``: its int8
        ``model_quantized.onnx``) run by onnxruntime; ``"torch"``: the saved model.
        ``trust_remote_code``: the caller's word that the folder's custom code may run."""
        settings = DecodingSettings.of_folder(folder)
        model = onnx_span_model(folder, backend=backend, quantized=quantized, threads=threads)
        if model is not None:
            name = f"{folder} (onnx {'int8' if quantized else 'fp32'})"
            settings = fp32_for_onnx(settings, folder)
        else:
            if threads is not None:
                torch.set_num_threads(threads)
            model = load_qa_model(folder, trust_remote_code=trust_remote_code)
            model = answering_model(model, folder, settings).eval()
            name = f"{folder} (torch, {settings.precision})"
        tokenizer = load_tokenizer(folder, trust_remote_code=trust_remote_code)
        answerer = cls(model, tokenizer, settings, name=name)
        if answerer.why_not:
            log.info("%s was scored in %s; %s", folder, settings.precision, answerer.why_not)
        return answerer

    def _logits(self, windows: dict[str, list], batch_size: int) -> tuple[list, list]:
        """Start/end logits of every window, in window order, batched by length."""
        names = [n for n in self.tokenizer.model_input_names if n in windows]
        lengths = np.array([len(ids) for ids in windows["input_ids"]])
        starts: list[np.ndarray] = [np.empty(0)] * len(lengths)
        ends: list[np.ndarray] = [np.empty(0)] * len(lengths)
        order = np.argsort(-lengths, kind="stable")
        with torch.inference_mode(), autocast_to(self.device.type, self.autocast):
            for lo in range(0, len(order), batch_size):
                rows = order[lo : lo + batch_size]
                batch = self.tokenizer.pad(
                    {n: [windows[n][r] for r in rows] for n in names},
                    padding="longest",
                    padding_side="right",
                    return_tensors="pt",
                )
                out = self.model(**batch.to(self.device))
                start = out.start_logits.float().cpu().numpy()
                end = out.end_logits.float().cpu().numpy()
                for i, r in enumerate(rows):
                    starts[r], ends[r] = start[i, : lengths[r]], end[i, : lengths[r]]
        return starts, ends

    def count_windows(self, items: list[dict]) -> list[int]:
        """The windows ``answer`` will run for each item: what one item costs the model.

        Tokenizes a second time (without offsets) rather than handing windows on to
        ``answer``: tokenizing is a small part of a window's cost, and ``answer`` keeps
        taking plain items. Safe beside a running ``answer`` in another thread: neither
        sets truncation or padding on the shared fast tokenizer.
        """
        s = self.settings
        return count_windows(
            [item["question"] for item in items],
            [item["context"] for item in items],
            self.tokenizer,
            max_length=s.max_length,
            doc_stride=s.doc_stride,
            max_question_tokens=s.max_question_tokens,
        )

    def answer(self, items: list[dict], batch_size: int | None = None) -> list[dict]:
        """``batch_size``: windows per model call (None: the folder's ``batch_size``)."""
        if not items:
            return []
        s = self.settings
        questions = [item["question"] for item in items]
        contexts = [item["context"] for item in items]
        windows = eval_windows(
            questions,
            contexts,
            self.tokenizer,
            max_length=s.max_length,
            doc_stride=s.doc_stride,
            max_question_tokens=s.max_question_tokens,
        )
        starts, ends = self._logits(windows, batch_size or s.batch_size)
        ids = [str(i) for i in range(len(items))]
        result = postprocess(
            {"id": ids, "context": contexts},
            windows,
            starts,
            ends,
            n_best_size=s.n_best_size,
            max_answer_length=s.max_answer_length,
            version_2=s.version_2,
            null_score_diff_threshold=s.null_score_diff_threshold,
        )
        return [_best(result.predictions[i], result.nbest[i]) for i in ids]


def _best(prediction: str, candidates: list[dict]) -> dict:
    """The decided answer with its probability and character span ("" for v2's null)."""
    chosen = next((c for c in candidates if c["text"] == prediction), candidates[0])
    return {
        "answer": prediction,
        "score": float(chosen["probability"]),
        "start": int(chosen["start"]),
        "end": int(chosen["end"]),
    }
