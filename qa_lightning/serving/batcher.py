"""Dynamic batching: the questions of concurrent requests answered in shared model calls.

Hand-written because no installed library does in-process micro-batching for FastAPI. The
model is CPU-bound and not thread-safe, so every call runs on one dedicated worker thread
while the event loop keeps accepting requests. :class:`MicroBatcher` mixes the items of
all waiting requests into batches; :class:`OneRequestAtATime` (``batching=false``) answers
each request alone, the reference to compare against.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# answer(items, batch_size) -> one answer per item, in order (Answerer.answer)
AnswerFn = Callable[[list[dict], int], list[dict]]


class ModelError(RuntimeError):
    """The model failed on a batch; every request with an item in it gets a 500."""


class ShuttingDown(RuntimeError):
    """The server stopped before the item was answered."""


def _model_thread() -> ThreadPoolExecutor:
    # one thread: the model is never called from two threads at once
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-model")


def _call(answer: AnswerFn, items: list[dict], batch_size: int) -> list[dict]:
    """The model call, its answers checked: a wrong count would pair answers with the
    wrong questions."""
    answers = answer(items, batch_size)
    if not isinstance(answers, list) or len(answers) != len(items):
        got = len(answers) if isinstance(answers, list) else type(answers).__name__
        raise ModelError(f"the model returned {got} answers for {len(items)} questions")
    return answers


@dataclass
class _Pending:
    item: dict
    future: asyncio.Future


def _fail(pending: list[_Pending], error: type[Exception], message: str) -> None:
    for p in pending:
        if not p.future.done():
            p.future.set_exception(error(message))  # one each: a raise grows its traceback


class MicroBatcher:
    """One consumer task takes the first waiting item, then gathers more until
    ``max_batch_size`` items or ``max_wait_ms`` have passed, and answers them in one call.

    A request's items are queued together, so they stay in order and may span batches; the
    request resolves when all of them do. A failing batch fails only its own requests.
    """

    def __init__(self, answer: AnswerFn, *, max_batch_size: int, max_wait_ms: float) -> None:
        self._answer = answer
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.task: asyncio.Task | None = None
        self._taken: list[_Pending] = []  # out of the queue, not answered yet

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._executor = _model_thread()
        self.task = asyncio.create_task(self._consume(), name="qa-batcher")

    async def stop(self) -> None:
        """Cancel the consumer and fail what it had not answered (after a graceful
        shutdown nothing: uvicorn lets open requests finish before the lifespan ends)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        queued = self._queue.qsize() if self._queue is not None else 0
        left = [*self._taken, *(self._queue.get_nowait() for _ in range(queued))]
        _fail(left, ShuttingDown, "the server is shutting down")
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def answer(self, items: list[dict]) -> list[dict]:
        if self.task is None or self.task.done() or self._queue is None:
            raise ShuttingDown("the batcher is not running")
        loop = asyncio.get_running_loop()
        pending = [_Pending(item, loop.create_future()) for item in items]
        for p in pending:  # no await in between: the request's items stay together
            self._queue.put_nowait(p)
        # every item settles before the request does, so no failure goes unretrieved
        results = await asyncio.gather(*(p.future for p in pending), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    async def _next_batch(self) -> list[_Pending]:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        batch = self._taken = [await self._queue.get()]
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch_size:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            # a timed-out get loses no item: it stays queued for the next batch
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except asyncio.TimeoutError:
                break
        # items of requests that went away (client disconnected) are not answered
        self._taken = [p for p in batch if not p.future.done()]
        return self._taken

    async def _consume(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            items = [p.item for p in batch]
            try:
                answers = await loop.run_in_executor(
                    self._executor, _call, self._answer, items, self.max_batch_size
                )
            except Exception as err:  # the consumer lives on; only this batch fails
                log.exception("the model failed on a batch of %d questions", len(batch))
                _fail(batch, ModelError, f"{type(err).__name__}: {err}")
                self._taken = []
                continue
            for p, answer in zip(batch, answers, strict=True):
                if not p.future.done():
                    p.future.set_result(answer)
            self._taken = []


class OneRequestAtATime:
    """``batching=false``: each request answered alone (its items in batches of
    ``max_batch_size``), one request at a time."""

    def __init__(self, answer: AnswerFn, *, max_batch_size: int) -> None:
        self._answer = answer
        self.max_batch_size = max_batch_size
        self._lock: asyncio.Lock | None = None
        self._executor: ThreadPoolExecutor | None = None

    async def start(self) -> None:
        self._lock = asyncio.Lock()
        self._executor = _model_thread()

    async def stop(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def answer(self, items: list[dict]) -> list[dict]:
        if self._lock is None or self._executor is None:
            raise ShuttingDown("the server is not running")
        loop = asyncio.get_running_loop()
        async with self._lock:
            try:
                return await loop.run_in_executor(
                    self._executor, _call, self._answer, items, self.max_batch_size
                )
            except Exception as err:
                log.exception("the model failed on a request of %d questions", len(items))
                raise ModelError(f"{type(err).__name__}: {err}") from err


class Batcher(Protocol):
    """What the app needs of either mode."""

    max_batch_size: int

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def answer(self, items: list[dict]) -> list[dict]: ...
