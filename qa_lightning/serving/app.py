"""The HTTP service: ``POST /predict`` answers questions, ``GET /health`` describes it.

FastAPI + uvicorn rather than LitServe, because LitServe batches whole requests as units and
runs the model in worker processes, while we batch the items of many requests together,
report bad items one by one, and keep one model in this process.
"""

from __future__ import annotations

import asyncio
import json
import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from qa_lightning.serving.batcher import (
    Batcher,
    MicroBatcher,
    ModelError,
    OneRequestAtATime,
    ShuttingDown,
)

log = logging.getLogger(__name__)

ACCEPTED = "send an object {question, context} or a JSON list of them"
ITEM_ACCEPTED = "each item is an object with non-empty strings 'question' and 'context'"


class Problem(Exception):
    """A request the service refuses: its status and the JSON body that says why."""

    def __init__(
        self, status: int, error: str, items: list[dict] | None = None, *, close: bool = False
    ) -> None:
        super().__init__(error)
        self.status = status
        self.body: dict[str, Any] = {"error": error}
        if items is not None:
            self.body["items"] = items
        # close: the body was not read to its end, so the connection cannot carry another
        self.headers = {"Connection": "close"} if close else None


def one_line(text: object, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


async def read_body(request: Request, limit: int, timeout_s: float) -> bytes:
    """The body, refused with 413 once it is over ``limit`` bytes: by its Content-Length
    first, then by the bytes read, so a chunked (or lying) client is bounded too; and with
    408 (connection closed) unless all of it arrives within ``timeout_s``."""
    too_large = f"request body is over {limit} bytes (the limit is serve.py's max_request_bytes)"
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise Problem(400, f"Content-Length {declared!r} is not a byte count")
        if int(declared) > limit:
            raise Problem(413, too_large, close=True)
    body = bytearray()

    async def read_all() -> None:
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:  # stop reading: the rest is never buffered
                raise Problem(413, too_large, close=True)

    # Hand-rolled: uvicorn times out idle keep-alive connections (timeout_keep_alive) but
    # not a body that stops mid-way, so a stalled client would hold its connection forever.
    # One deadline for the whole body, so a client trickling bytes is bounded too.
    try:
        await asyncio.wait_for(read_all(), timeout_s)  # asyncio.timeout needs Python 3.11
    except asyncio.TimeoutError:
        raise Problem(
            408,
            f"the request body did not arrive within {timeout_s:g} s "
            "(the limit is serve.py's body_timeout_s)",
            close=True,
        ) from None
    return bytes(body)


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which JSON does not have (and answers cannot echo)
    raise ValueError(f"{name} is not a JSON value (send null or a string)")


def parse_items(body: bytes, max_items: int) -> tuple[list[Any], bool]:
    """The items of the body and whether it was a list; 400 or 413 for a bad body."""
    if not body.strip():
        raise Problem(400, f"empty body; {ACCEPTED}")
    try:
        data = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as err:  # JSONDecodeError, bad UTF-8, deep nesting
        raise Problem(400, f"malformed JSON: {one_line(err)}; {ACCEPTED}") from None
    if isinstance(data, dict):
        return [data], False
    if not isinstance(data, list):
        raise Problem(400, f"the body is a JSON {_json_type(data)}; {ACCEPTED}")
    if not data:
        raise Problem(400, f"empty list: no questions to answer; {ACCEPTED}")
    if len(data) > max_items:
        raise Problem(
            413,
            f"{len(data)} questions in one request; at most {max_items} are accepted "
            "(the limit is serve.py's max_items)",
        )
    return data, True


def _json_type(value: Any) -> str:
    names = {str: "string", bool: "boolean", int: "number", float: "number", list: "list"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def item_error(item: Any) -> str | None:
    """What is wrong with one item (one line naming every problem), or None."""
    if not isinstance(item, dict):
        return f"the item is a JSON {_json_type(item)}; {ITEM_ACCEPTED}"
    problems = []
    for key in ("question", "context"):
        if key not in item:
            problems.append(f"'{key}' is missing")
        elif not isinstance(item[key], str):
            problems.append(f"'{key}' is a {_json_type(item[key])}, not a string")
        elif not item[key].strip():
            problems.append(f"'{key}' is empty")
        elif (bad := _not_utf8(item[key])) is not None:
            problems.append(f"'{key}' {bad}")
    if "id" in item and (bad := _not_encodable(item["id"])) is not None:
        problems.append(f"'id' {bad}")
    return f"{', '.join(problems)}; {ITEM_ACCEPTED}" if problems else None


def _not_utf8(text: str) -> str | None:
    """Why ``text`` cannot be encoded as UTF-8 (JSON's \\ud800 escapes decode to lone
    surrogates, which the tokenizer cannot take), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        return f"is not valid UTF-8 text (a lone surrogate at character {err.start})"
    return None


MAX_ID_DEPTH = 32  # an id is a label: deeper nesting is a mistake (and may not encode)


def _depth(value: Any) -> int:
    """How deeply lists and objects nest in ``value`` (0 for a scalar), without recursing."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth + 1)
            stack.extend(
                (child, depth + 1) for child in (node.values() if isinstance(node, dict) else node)
            )
    return deepest


def _not_encodable(value: Any) -> str | None:
    """Why an answer echoing ``value`` could not be sent, or None: before the model runs.

    The depth is a fixed limit because the encoder's own (the recursion limit) depends on
    the stack it is called from; the rest is checked by encoding as the response will."""
    if (depth := _depth(value)) > MAX_ID_DEPTH:
        return f"is nested {depth} levels deep; at most {MAX_ID_DEPTH} are accepted"
    try:
        JSONResponse([{"id": value}])
    except (ValueError, TypeError) as err:  # UnicodeEncodeError is a ValueError
        return f"cannot be echoed back as JSON: {one_line(err, 120)}"
    return None


def check_items(items: list[Any]) -> None:
    errors = [
        {"index": i, "error": error}
        for i, item in enumerate(items)
        if (error := item_error(item)) is not None
    ]
    if errors:
        bad = ", ".join(str(e["index"]) for e in errors)
        raise Problem(400, f"{len(errors)} of {len(items)} items are invalid: {bad}", errors)


def check_windows(windows: list[int], limit: int) -> None:
    """413 for the items whose context is too long for one model call's share of time."""
    over = [
        {"index": i, "error": f"{n} windows of context; at most {limit} per item are accepted"}
        for i, n in enumerate(windows)
        if n > limit
    ]
    if over:
        which = ", ".join(f"item {e['index']} has {windows[e['index']]}" for e in over)
        raise Problem(
            413,
            f"{which} windows of context; at most {limit} per item are accepted "
            "(the limit is serve.py's max_windows_per_item: shorten the context)",
            over,
        )


def response_item(answer: dict, item: dict) -> dict:
    out = {
        "answer": str(answer["answer"]),
        "score": float(answer["score"]),  # numpy / torch scalars are not JSON
        "start": int(answer["start"]),
        "end": int(answer["end"]),
    }
    if "id" in item:
        out["id"] = item["id"]
    return out


def make_app(
    answerer: Any,
    *,
    batching: bool = True,
    max_batch_size: int = 16,
    max_wait_ms: float = 0.0,
    max_request_bytes: int = 1_000_000,
    max_items: int = 64,
    max_windows_per_item: int = 8,
    body_timeout_s: float = 10.0,
) -> FastAPI:
    """The service around ``answerer`` (``.answer(items, batch_size=...)``,
    ``.count_windows(items)`` and ``.name``): its batcher starts with the app's lifespan
    and stops with it (``app.state.batcher``)."""

    batcher: Batcher = (
        MicroBatcher(answerer.answer, max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)
        if batching
        else OneRequestAtATime(answerer.answer, max_batch_size=max_batch_size)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = FastAPI(title="qa-lightning", lifespan=lifespan)
    app.state.batcher = batcher

    @app.exception_handler(Problem)
    async def refuse(_: Request, problem: Problem) -> JSONResponse:
        return JSONResponse(problem.body, status_code=problem.status, headers=problem.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, err: Exception) -> JSONResponse:
        # Starlette re-raises the error after this response, so uvicorn logs its traceback
        return JSONResponse({"error": f"internal error: {one_line(err)}"}, status_code=500)

    @app.get("/health")
    async def health() -> dict:
        return {
            "status": "ok",
            "model": answerer.name,
            "batching": batching,
            "max_batch_size": max_batch_size,
        }

    @app.post("/predict", openapi_extra=_PREDICT_DOC)
    async def predict(request: Request) -> JSONResponse:
        try:
            body = await read_body(request, max_request_bytes, body_timeout_s)
        except ClientDisconnect:
            return JSONResponse({"error": "the client went away"}, status_code=400)
        items, many = parse_items(body, max_items)
        check_items(items)
        questions = [{"question": i["question"], "context": i["context"]} for i in items]
        # off the event loop: tokenizing a body at max_request_bytes takes a while
        windows = await run_in_threadpool(answerer.count_windows, questions)
        check_windows(windows, max_windows_per_item)
        try:
            answers = await batcher.answer(questions, windows)
            out = [response_item(a, i) for a, i in zip(answers, items, strict=True)]
            return JSONResponse(out if many else out[0])  # NaN scores fail here
        except ShuttingDown as err:
            return JSONResponse({"error": one_line(err)}, status_code=503)
        except ModelError as err:  # logged with its traceback where it happened
            return JSONResponse({"error": f"the model failed: {one_line(err)}"}, status_code=500)
        except Exception as err:  # an answer that is not {answer, score, start, end}
            log.exception("the model returned a malformed answer")
            return JSONResponse({"error": f"the model failed: {one_line(err)}"}, status_code=500)

    return app


_ITEM_SCHEMA = {
    "type": "object",
    "required": ["question", "context"],
    "properties": {
        "question": {"type": "string", "minLength": 1},
        "context": {"type": "string", "minLength": 1},
        "id": {"description": "optional; echoed back in the answer"},
    },
}
_PREDICT_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"oneOf": [_ITEM_SCHEMA, {"type": "array", "items": _ITEM_SCHEMA}]}
            }
        },
    }
}
