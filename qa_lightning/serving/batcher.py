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
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# answer(items, batch_size) -> one answer per item, in order (Answerer.answer)
AnswerFn = Callable[[list[dict], int], list[dict]]


class ModelError(RuntimeError):
    """The model failed on an item (alone, after its batch failed): its request gets a 500."""


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
    windows: int  # what the item costs the model (Answerer.count_windows)
    future: asyncio.Future


def _fail(pending: list[_Pending], error: type[Exception], message: str) -> None:
    for p in pending:
        if not p.future.done():
            p.future.set_exception(error(message))  # one each: a raise grows its traceback


class MicroBatcher:
    """One consumer task fills each model call with up to ``max_batch_size`` windows (an
    item with more goes alone), taking items from the waiting requests in turn: one item
    of each, then round again. A small request that arrives while a large one is served
    is in the next call, so it waits about one batch, not for the whole large request.

    A request's items keep their order and may span batches; the request resolves when
    all of them do. A failing batch is answered again item by item, so only the request
    with the bad item fails. ``max_wait_ms``: how long a call waits for more items once
    it has one.
    """

    def __init__(self, answer: AnswerFn, *, max_batch_size: int, max_wait_ms: float) -> None:
        self._answer = answer
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        # one queue of items per request with items left, in turn order
        self._waiting: deque[deque[_Pending]] = deque()
        self._arrived: asyncio.Event | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.task: asyncio.Task | None = None
        self._taken: list[_Pending] = []  # out of the queues, not answered yet

    async def start(self) -> None:
        self._arrived = asyncio.Event()
        self._executor = _model_thread()
        self.task = asyncio.create_task(self._consume(), name="qa-batcher")

    async def stop(self) -> None:
        """Cancel the consumer and fail what it had not answered (after a graceful
        shutdown nothing: uvicorn lets open requests finish before the lifespan ends)."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        left = [*self._taken, *(p for request in self._waiting for p in request)]
        self._waiting.clear()
        _fail(left, ShuttingDown, "the server is shutting down")
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def answer(self, items: list[dict], windows: list[int] | None = None) -> list[dict]:
        """Answers in order; ``windows``: each item's window count (None: one each)."""
        if self.task is None or self.task.done() or self._arrived is None:
            raise ShuttingDown("the batcher is not running")
        loop = asyncio.get_running_loop()
        counts = windows if windows is not None else [1] * len(items)
        pending = [_Pending(i, n, loop.create_future()) for i, n in zip(items, counts, strict=True)]
        self._waiting.append(deque(pending))
        self._arrived.set()
        # every item settles before the request does, so no failure goes unretrieved
        results = await asyncio.gather(*(p.future for p in pending), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    def _take(self, batch: list[_Pending], size: int) -> int:
        """Move items into ``batch``, one per waiting request in turn, while they fit in
        ``max_batch_size`` windows; the batch's new size. Items stop at the first that
        does not fit (never skipped past, so a large item is not starved)."""
        while self._waiting and size < self.max_batch_size:
            if batch and size + self._waiting[0][0].windows > self.max_batch_size:
                break
            request = self._waiting.popleft()
            p = request.popleft()
            if request:  # back of the line: the next request's turn
                self._waiting.append(request)
            if p.future.done():  # its request went away (client disconnected)
                continue
            batch.append(p)
            size += p.windows
        return size

    async def _next_batch(self) -> list[_Pending]:
        assert self._arrived is not None
        loop = asyncio.get_running_loop()
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        batch = self._taken = []
        size = self._take(batch, 0)
        deadline = loop.time() + self.max_wait_s
        # items left waiting means the batch is full; else wait for more until the deadline
        while not self._waiting and size < self.max_batch_size:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except asyncio.TimeoutError:
                break
            size = self._take(batch, size)
        return batch

    async def _run(self, batch: list[_Pending]) -> None:
        """Answer ``batch`` in one model call; if it fails, each item alone."""
        loop = asyncio.get_running_loop()
        batch = [p for p in batch if not p.future.done()]
        if not batch:
            return
        items = [p.item for p in batch]
        try:
            answers = await loop.run_in_executor(
                self._executor, _call, self._answer, items, self.max_batch_size
            )
        except Exception as err:  # the consumer lives on; only the bad item's request fails
            if len(batch) > 1:
                log.warning(
                    "the model failed on a batch of %d questions (%s: %s); answering each alone",
                    len(batch),
                    type(err).__name__,
                    err,
                )
                for p in batch:
                    await self._run([p])
                return
            log.exception("the model failed on a question")
            _fail(batch, ModelError, f"{type(err).__name__}: {err}")
            return
        for p, answer in zip(batch, answers, strict=True):
            if not p.future.done():
                p.future.set_result(answer)

    async def _consume(self) -> None:
        while True:
            batch = await self._next_batch()
            await self._run(batch)
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

    async def answer(self, items: list[dict], windows: list[int] | None = None) -> list[dict]:
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

    async def answer(self, items: list[dict], windows: list[int] | None = None) -> list[dict]: ...
