"""Answer questions with a saved model: the same windows and decoding as evaluation.

transformers 5 removed the ``question-answering`` pipeline task (and refuses that name).
Importing this module registers :class:`ExtractiveQAPipeline` as the task
``extractive-question-answering``, so after ``import qa_lightning.inference``,
``transformers.pipeline("extractive-question-answering", model=<saved dir>)`` answers
questions with any ``AutoModelForQuestionAnswering`` model, ours or the Hub's, and with the
``best_model/`` of a frozen-encoder run (an encoder plus ``qa_head.safetensors``), whose
own head answers: transformers loads such a folder with an untrained QA layer.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForQuestionAnswering, Pipeline

from qa_lightning.data.features import eval_windows
from qa_lightning.evaluation.postprocessing import postprocess
from qa_lightning.inference.answerer import (
    Answerer,
    DecodingSettings,
    answering_model,
    fp32_for_onnx,
)
from qa_lightning.inference.onnx_runner import onnx_span_model
from qa_lightning.models.precision import answering_autocast, autocast_to

TASK = "extractive-question-answering"

log = logging.getLogger(__name__)


def _given(**settings: Any) -> dict[str, Any]:
    """The settings a call passed (None: the folder's or the default)."""
    return {k: v for k, v in settings.items() if v is not None}


class ExtractiveQAPipeline(Pipeline):
    """``pipe(question=..., context=...)`` -> ``{"answer", "score", "start", "end"}``.

    Long contexts are split into ``max_length`` windows with ``doc_stride`` overlap; with
    ``handle_impossible_answer=True`` (SQuAD 2.0 models) the answer may be ``""``.
    """

    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    _load_tokenizer = True

    def __init__(
        self, *args: Any, backend: str = "torch", quantized: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        directory = getattr(self.model, "name_or_path", None)
        local = bool(directory) and Path(directory).is_dir()
        # a folder's own head answers; its qa_decoding.json gives the windows, the decoding
        # and the precision its run was scored in
        self.decoding = DecodingSettings.of_folder(directory) if local else DecodingSettings()
        onnx = onnx_span_model(directory or "", backend=backend, quantized=quantized)
        if onnx is not None:
            self.span_model = onnx
            self.decoding = fp32_for_onnx(self.decoding, directory)
        elif local:
            span_model = answering_model(self.model, directory, self.decoding)
            self.span_model = span_model.to(self.device).eval()
        else:
            self.span_model = self.model
        self.autocast, why_not = answering_autocast(self.decoding.precision, self.device.type)
        if why_not:
            log.info("%s was scored in %s; %s", directory, self.decoding.precision, why_not)

    def _sanitize_parameters(
        self,
        max_length: int | None = None,
        doc_stride: int | None = None,
        max_question_tokens: int | None = None,
        n_best_size: int | None = None,
        max_answer_length: int | None = None,
        top_k: int | None = None,
        handle_impossible_answer: bool | None = None,
        **_: Any,
    ):
        pre = _given(
            max_length=max_length, doc_stride=doc_stride, max_question_tokens=max_question_tokens
        )
        post = _given(
            n_best_size=n_best_size,
            max_answer_length=max_answer_length,
            top_k=top_k,
            handle_impossible_answer=handle_impossible_answer,
        )
        return pre, {}, post

    def __call__(
        self,
        *args: Any,
        question: Any = None,
        context: Any = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ):
        """One ``{question, context}`` (or ``question=``/``context=`` strings) -> a dict; a
        list (or lists of strings) -> a list, answered ``batch_size`` windows at a time
        (default: the folder's ``qa_decoding.json``, the batches its run was scored in)."""
        if question is not None or context is not None:
            if isinstance(question, str):
                return super().__call__({"question": question, "context": context}, **kwargs)
            items = [{"question": q, "context": c} for q, c in zip(question, context, strict=True)]
            return self._answer_list(items, batch_size, **kwargs)
        if len(args) == 1 and isinstance(args[0], list):
            return self._answer_list(args[0], batch_size, **kwargs)
        return super().__call__(*args, batch_size=batch_size, **kwargs)

    def _answer_list(self, items: list[dict], batch_size: int | None, **kwargs: Any) -> list:
        """A list in length-sorted batches of windows (the Answerer's path): one tokenizer
        call and no per-question progress bar. ``top_k`` > 1 goes one question at a time."""
        if kwargs.get("top_k", 1) != 1:
            return [self(item, **kwargs) for item in items]
        pre, _, post = self._sanitize_parameters(**kwargs)
        version_2 = post.pop("handle_impossible_answer", None)
        post.pop("top_k", None)
        settings = replace(self.decoding, **pre, **post, **_given(version_2=version_2))
        answerer = Answerer(self.span_model, self.tokenizer, settings, device=self.device)
        return answerer.answer(items, batch_size=batch_size)  # None: the folder's

    def preprocess(
        self,
        inputs: dict[str, str],
        max_length: int | None = None,
        doc_stride: int | None = None,
        max_question_tokens: int | None = None,
    ):
        d = self.decoding
        max_length = max_length or d.max_length
        doc_stride = doc_stride or d.doc_stride
        max_question_tokens = max_question_tokens or d.max_question_tokens
        # in memory: a Dataset.map here printed one progress bar per question
        features = eval_windows(
            [inputs["question"]],
            [inputs["context"]],
            self.tokenizer,
            max_length=max_length,
            doc_stride=doc_stride,
            max_question_tokens=max_question_tokens,
        )
        example = {"id": ["0"], "context": [inputs["context"]]}
        names = [n for n in self.tokenizer.model_input_names if n in features]
        batch = self.tokenizer.pad(
            {n: features[n] for n in names},
            padding="longest",
            padding_side="right",
            return_tensors="pt",
        )
        return {"batch": batch, "example": example, "features": features}

    def _forward(self, model_inputs: dict[str, Any]):
        with torch.no_grad(), autocast_to(self.device.type, self.autocast):
            out = self.span_model(**model_inputs["batch"])
        return {
            **model_inputs,
            "start_logits": out.start_logits.float(),
            "end_logits": out.end_logits.float(),
        }

    def postprocess(
        self,
        model_outputs: dict[str, Any],
        n_best_size: int | None = None,
        max_answer_length: int | None = None,
        top_k: int = 1,
        handle_impossible_answer: bool | None = None,
    ):
        d = self.decoding
        if handle_impossible_answer is None:
            handle_impossible_answer = d.version_2
        result = postprocess(
            model_outputs["example"],
            model_outputs["features"],
            model_outputs["start_logits"].numpy(),
            model_outputs["end_logits"].numpy(),
            n_best_size=n_best_size or d.n_best_size,
            max_answer_length=max_answer_length or d.max_answer_length,
            version_2=handle_impossible_answer,
            null_score_diff_threshold=d.null_score_diff_threshold,
        )
        candidates = result.nbest["0"]
        if result.predictions["0"] == "" and candidates[0]["text"]:
            # v2 decided "no answer" (null beat the best span by the threshold): lead with it
            null = next(c for c in candidates if not c["text"])
            candidates = [null, *(c for c in candidates if c is not null)]
        answers = [
            {
                "score": float(c["probability"]),
                "start": c["start"],
                "end": c["end"],
                "answer": c["text"],
            }
            for c in candidates[:top_k]
        ]
        return answers[0] if top_k == 1 else answers[:top_k]


def register_pipeline() -> None:
    """Make ``pipeline("extractive-question-answering")`` available (idempotent)."""
    from transformers.pipelines import PIPELINE_REGISTRY

    if TASK not in PIPELINE_REGISTRY.get_supported_tasks():
        PIPELINE_REGISTRY.register_pipeline(
            TASK,
            pipeline_class=ExtractiveQAPipeline,
            pt_model=AutoModelForQuestionAnswering,
            type="text",
        )


def qa_pipeline(model: str, **kwargs: Any) -> ExtractiveQAPipeline:
    """``transformers.pipeline`` for a saved QA model directory (or Hub name)."""
    from transformers import pipeline

    return pipeline(TASK, model=model, **kwargs)


register_pipeline()
