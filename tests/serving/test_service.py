"""serve.py's HTTP service through real HTTP: uvicorn on a free local port in a thread,
httpx over TCP, a real Answerer on a tiny saved model. Every answer is compared with the
same question answered directly; a recording proxy shows which items shared a model call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from qa_lightning.serving.app import make_app
from tests.cli.test_train_eval import run_entry
from tests.fixtures import WORDS, make_context

FAIL = "which question makes the model fail"
MALFORMED = "which question gets a malformed answer"
LIMITS = dict(
    max_batch_size=4,
    max_wait_ms=30.0,
    max_request_bytes=8_000,
    max_items=12,
    max_windows_per_item=2,
)


class Recording:
    """The answerer as the app sees it: records every model call (its questions, batch
    size and thread) and whether two calls ever ran at once; fails on FAIL, and gives a
    NaN score (not JSON) for MALFORMED."""

    def __init__(self, answerer: Any) -> None:
        self.answerer = answerer
        self.name = answerer.name
        self.calls: list[tuple[list[str], int, str]] = []
        self.overlapped = False
        self._busy = threading.Lock()

    def count_windows(self, items: list[dict]) -> list[int]:
        return self.answerer.count_windows(items)

    def answer(self, items: list[dict], batch_size: int = 32) -> list[dict]:
        if not self._busy.acquire(blocking=False):
            self.overlapped = True
            self._busy.acquire()
        try:
            questions = [i["question"] for i in items]
            self.calls.append((questions, batch_size, threading.current_thread().name))
            if FAIL in questions:
                raise RuntimeError("the model broke\non two lines")
            answers = self.answerer.answer(items, batch_size=batch_size)
            for q, a in zip(questions, answers, strict=True):
                if q == MALFORMED:
                    a["score"] = float("nan")  # not JSON
            return answers
        finally:
            self._busy.release()


class Sleeper:
    """A stand-in answerer for timing: a context of n words is ceil(n / 10) windows, and a
    model call sleeps ``per_window`` s for each window it holds; FAIL makes a call fail."""

    name = "sleeper"

    def __init__(self, per_window: float) -> None:
        self.per_window = per_window
        self.calls: list[list[str]] = []

    def count_windows(self, items: list[dict]) -> list[int]:
        return [-(-len(i["context"].split()) // 10) for i in items]

    def answer(self, items: list[dict], batch_size: int = 32) -> list[dict]:
        self.calls.append([i["question"] for i in items])
        time.sleep(self.per_window * sum(self.count_windows(items)))
        if any(i["question"] == FAIL for i in items):
            raise RuntimeError("the model broke")
        return [{"answer": i["question"], "score": 0.5, "start": 0, "end": 1} for i in items]


def words(n: int) -> str:
    return " ".join(WORDS[i % len(WORDS)] for i in range(n))


class LiveServer:
    """uvicorn serving ``app`` on a free port, in a thread with its own event loop."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning")
        self.server = uvicorn.Server(config)
        self.tasks_left: list[asyncio.Task] | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    async def _serve(self) -> None:
        await self.server.serve(sockets=[self.sock])
        # what the lifespan's shutdown left running (asyncio.run would cancel it silently)
        me = asyncio.current_task()
        self.tasks_left = [t for t in asyncio.all_tasks() if t is not me]

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        assert httpx.get(f"{self.url}/health", timeout=10).status_code == 200
        return self

    def stop(self, timeout: float = 10) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


@contextlib.contextmanager
def live(app: Any) -> Iterator[LiveServer]:
    server = LiveServer(app).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def answerer(tiny_bert_dir):
    """The real Answerer on a tiny saved BERT (tests/conftest.py builds it in a second)."""
    from qa_lightning.inference import Answerer

    return Answerer.from_folder(str(tiny_bert_dir))


@pytest.fixture(scope="module")
def batched(answerer) -> Iterator[tuple[LiveServer, Recording]]:
    recording = Recording(answerer)
    with live(make_app(recording, batching=True, **LIMITS)) as server:
        yield server, recording


@pytest.fixture(scope="module")
def unbatched(answerer) -> Iterator[tuple[LiveServer, Recording]]:
    recording = Recording(answerer)
    with live(make_app(recording, batching=False, **LIMITS)) as server:
        yield server, recording


@pytest.fixture(params=["batched", "unbatched"])
def service(request) -> tuple[LiveServer, Recording]:
    server, recording = request.getfixturevalue(request.param)
    recording.calls.clear()
    return server, recording


def question(i: int) -> dict:
    words = WORDS[(7 * i) % len(WORDS) :][:5]
    return {"question": f"what {' '.join(words)} {i}?", "context": make_context(60, seed=i)}


def same_answer(got: dict, want: dict) -> None:
    assert (got["answer"], got["start"], got["end"]) == (want["answer"], want["start"], want["end"])
    assert got["score"] == pytest.approx(want["score"], abs=1e-4)  # padding in a batch


def post(server: LiveServer, body: Any = None, **kwargs: Any) -> httpx.Response:
    if body is not None:
        kwargs["json"] = body
    return httpx.post(f"{server.url}/predict", timeout=30, **kwargs)


# -- answers -------------------------------------------------------------------------------


def test_one_question_is_answered_as_the_model_answers_it(service, answerer) -> None:
    server, _ = service
    item = question(1)
    want = answerer.answer([item])[0]
    response = post(server, {**item, "id": "q-1"})
    assert response.status_code == 200, response.text
    got = response.json()
    assert set(got) == {"answer", "score", "start", "end", "id"} and got["id"] == "q-1"
    same_answer(got, want)
    assert got["answer"] == item["context"][got["start"] : got["end"]]
    assert got["answer"]  # a tiny random model still points into the context


def test_a_list_is_answered_in_order(service, answerer) -> None:
    server, _ = service
    items = [question(i) for i in (2, 3, 4)]
    want = answerer.answer(items)
    response = post(server, items)
    assert response.status_code == 200, response.text
    got = response.json()
    assert isinstance(got, list) and len(got) == 3
    assert all("id" not in g for g in got)
    for g, w in zip(got, want, strict=True):
        same_answer(g, w)


def test_a_request_larger_than_a_batch_spans_batches(batched, answerer) -> None:
    server, recording = batched
    recording.calls.clear()
    items = [question(i) for i in range(10, 20)]
    want = [answerer.answer([item])[0] for item in items]
    response = post(server, items)
    assert response.status_code == 200, response.text
    for g, w in zip(response.json(), want, strict=True):
        same_answer(g, w)
    assert [len(q) for q, _, _ in recording.calls] == [4, 4, 2]
    assert [q for call in recording.calls for q in call[0]] == [i["question"] for i in items]


def test_health_describes_the_service(batched, unbatched) -> None:
    for (server, recording), batching in ((batched, True), (unbatched, False)):
        response = httpx.get(f"{server.url}/health", timeout=10)
        assert response.status_code == 200
        assert response.json() == {
            "status": "ok",
            "model": recording.name,
            "batching": batching,
            "max_batch_size": LIMITS["max_batch_size"],
        }


# -- bad requests ----------------------------------------------------------------------------


def test_bad_items_are_listed_by_index(service) -> None:
    server, recording = service
    good = question(5)
    response = post(server, [good, {"question": "who?"}, {"question": 7, "context": "x y"}])
    assert response.status_code == 400
    body = response.json()
    assert [i["index"] for i in body["items"]] == [1, 2]
    assert "'context' is missing" in body["items"][0]["error"]
    assert "'question' is a number, not a string" in body["items"][1]["error"]
    assert "\n" not in body["error"]
    for item in body["items"]:  # what is wrong, then what is accepted, on one line
        assert "\n" not in item["error"]
        assert "non-empty strings 'question' and 'context'" in item["error"]
    assert recording.calls == []  # nothing reached the model


@pytest.mark.parametrize(
    "content, expected",
    [
        (b'{"question": "who?", "context": ', "malformed JSON"),
        (b"[]", "empty list"),
        (b"", "empty body"),
        (b'"who?"', "JSON string"),
        (b"[1, [2]]", "2 of 2 items are invalid"),
        (b'{"question": " ", "context": "x"}', "1 of 1 items are invalid"),
        (b"\xff\xfe{", "malformed JSON"),
    ],
)
def test_a_bad_body_is_a_400_with_one_line(batched, content: bytes, expected: str) -> None:
    server, _ = batched
    response = post(server, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert expected in error and "\n" not in error


def test_oversize_bodies_and_too_many_items_are_413(service) -> None:
    server, recording = service
    limit = LIMITS["max_request_bytes"]
    big = {"question": "who?", "context": "word " * (limit // 5)}
    response = post(server, big)  # with Content-Length
    assert response.status_code == 413
    assert (
        str(limit) in response.json()["error"] and "max_request_bytes" in response.json()["error"]
    )

    def chunks() -> Iterator[bytes]:  # no Content-Length: only the bytes read can tell
        yield b'{"question": "who?", "context": "'
        for _ in range(limit // 1000 + 2):
            yield b"w" * 1000
        yield b'"}'

    response = post(server, content=chunks())
    assert response.status_code == 413
    assert "max_request_bytes" in response.json()["error"]

    items = [question(i) for i in range(LIMITS["max_items"] + 1)]
    response = post(server, items)
    assert response.status_code == 413
    error = response.json()["error"]
    assert str(LIMITS["max_items"]) in error and "max_items" in error
    assert recording.calls == []

    # just under both limits: answered
    response = post(server, [question(0)] * LIMITS["max_items"])
    assert response.status_code == 200, response.text


def test_a_model_failure_is_a_500_and_the_server_goes_on(service, answerer, caplog) -> None:
    server, _ = service
    with caplog.at_level(logging.ERROR, logger="qa_lightning.serving"):
        response = post(server, [question(1), {"question": FAIL, "context": "a b c"}])
    assert response.status_code == 500
    error = response.json()["error"]
    assert "RuntimeError" in error and "the model broke" in error and "\n" not in error
    logged = [r for r in caplog.records if r.exc_info and "the model broke" in str(r.exc_info[1])]
    assert logged, "the model's traceback was not logged"
    item = question(2)
    response = post(server, item)
    assert response.status_code == 200
    same_answer(response.json(), answerer.answer([item])[0])

    response = post(server, {"question": MALFORMED, "context": "a b c"})
    assert response.status_code == 500
    assert "\n" not in response.json()["error"]
    assert post(server, item).status_code == 200


def test_a_lone_surrogate_is_a_400_naming_its_item(service) -> None:
    """JSON may escape a lone surrogate; it is no text the tokenizer (or UTF-8) can take."""
    server, recording = service
    good = question(6)
    bad = b'{"question": "who \\ud800?", "context": "a b c"}'
    content = b"[" + httpx.Request("POST", "/", json=good).content + b", " + bad + b"]"
    response = post(server, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    body = response.json()
    assert [i["index"] for i in body["items"]] == [1]
    assert "'question' is not valid UTF-8" in body["items"][0]["error"]
    assert recording.calls == []


@pytest.mark.parametrize(
    "raw_id, expected",
    [
        (b"NaN", "NaN is not a JSON value"),
        (b"[Infinity]", "Infinity is not a JSON value"),
        (b'"\\udc00"', "'id' cannot be echoed back"),
        (b"[" * 950 + b"]" * 950, "'id' is nested 950 levels deep; at most 32"),
    ],
)
def test_an_id_the_answer_cannot_echo_is_a_400_before_the_model_runs(
    service, raw_id: bytes, expected: str
) -> None:
    server, recording = service
    content = b'{"question": "who?", "context": "a b c", "id": ' + raw_id + b"}"
    response = post(server, content=content, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert expected in response.text and "\n" not in response.json()["error"]
    assert recording.calls == []


def test_an_item_over_the_window_limit_is_a_413_naming_it(service, answerer) -> None:
    server, recording = service
    limit = LIMITS["max_windows_per_item"]
    long = {"question": "who?", "context": make_context(500, seed=3)}
    assert answerer.count_windows([long]) == [limit + 1]
    assert answerer.count_windows([question(7)]) == [1]
    response = post(server, [question(7), long])
    assert response.status_code == 413, response.text
    body = response.json()
    assert [i["index"] for i in body["items"]] == [1]
    error = body["error"]
    assert f"item 1 has {limit + 1} windows" in error and f"at most {limit}" in error
    assert "max_windows_per_item" in error and "\n" not in error
    assert recording.calls == []
    # at the limit: answered
    at_limit = {"question": "who?", "context": make_context(300, seed=3)}
    assert answerer.count_windows([at_limit]) == [limit]
    assert post(server, at_limit).status_code == 200


def test_a_stalled_body_gets_a_408_and_its_connection_closed() -> None:
    app = make_app(Sleeper(0.0), batching=True, body_timeout_s=0.5)
    with live(app) as server, socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
            b"content-length: 100\r\n\r\n" + b'{"question": "who'
        )
        sock.settimeout(3)  # the body stops here: the server must answer and hang up
        started, received = time.monotonic(), b""
        while chunk := sock.recv(4096):
            received += chunk
        assert time.monotonic() - started < 2.5
    assert received.startswith(b"HTTP/1.1 408"), received
    assert b"body_timeout_s" in received


# -- concurrency -----------------------------------------------------------------------------


async def _post_all(url: str, bodies: list[Any]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        return await asyncio.gather(*(client.post(f"{url}/predict", json=b) for b in bodies))


def test_concurrent_clients_share_batches_and_get_their_own_answers(batched, answerer) -> None:
    server, recording = batched
    items = [question(100 + i) for i in range(16)]
    want = [answerer.answer([item])[0] for item in items]
    recording.calls.clear()
    responses = asyncio.run(_post_all(server.url, items))
    for response, w in zip(responses, want, strict=True):
        assert response.status_code == 200, response.text
        same_answer(response.json(), w)
    sizes = [len(q) for q, _, _ in recording.calls]
    assert sum(sizes) == 16 and max(sizes) > 1 and max(sizes) <= LIMITS["max_batch_size"]
    assert {thread for _, _, thread in recording.calls} == {recording.calls[0][2]}
    assert recording.calls[0][2].startswith("qa-model")
    assert not recording.overlapped


def test_without_batching_each_request_is_answered_alone(unbatched, answerer) -> None:
    server, recording = unbatched
    bodies = [[question(200 + 2 * i), question(201 + 2 * i)] for i in range(8)]
    want = [answerer.answer(body) for body in bodies]
    recording.calls.clear()
    responses = asyncio.run(_post_all(server.url, bodies))
    for response, w in zip(responses, want, strict=True):
        assert response.status_code == 200, response.text
        for g, one in zip(response.json(), w, strict=True):
            same_answer(g, one)
    requests = sorted([i["question"] for i in body] for body in bodies)
    assert sorted(q for q, _, _ in recording.calls) == requests
    assert {size for _, size, _ in recording.calls} == {LIMITS["max_batch_size"]}
    assert not recording.overlapped


def test_a_small_request_is_answered_while_a_large_one_is_served() -> None:
    """12 questions of 4 windows each take 2.4 s of model time in calls of 4 windows
    (0.2 s); a one-window request sent during it is in the next call."""
    sleeper = Sleeper(per_window=0.05)
    app = make_app(sleeper, batching=True, max_batch_size=4, max_items=12, max_windows_per_item=4)
    large = [{"question": f"large {i}", "context": words(40)} for i in range(12)]
    small = {"question": "small", "context": words(5)}

    async def scenario() -> tuple[float, float, list[httpx.Response]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            t0 = time.monotonic()
            big = asyncio.ensure_future(client.post("/predict", json=large))
            await asyncio.sleep(0.3)
            sent = time.monotonic()
            little = await client.post("/predict", json=small)
            small_s = time.monotonic() - sent
            done = await big
            return small_s, time.monotonic() - t0, [little, done]

    with live(app) as server:
        small_s, large_s, responses = asyncio.run(scenario())
    assert [r.status_code for r in responses] == [200, 200]
    assert responses[0].json()["answer"] == "small"
    assert [a["answer"] for a in responses[1].json()] == [i["question"] for i in large]
    assert small_s < 0.8, f"the small request waited {small_s:.2f} s"
    assert large_s > 2.0  # it was still being served
    assert max(len(call) for call in sleeper.calls) == 1  # 4 windows each: one per call


def test_a_poison_item_fails_only_its_own_request() -> None:
    """With batching, the poison shares a model call with other clients' questions; the
    call is answered again item by item, so only the poison's request gets a 500."""
    sleeper = Sleeper(per_window=0.01)
    app = make_app(sleeper, batching=True, max_batch_size=16, max_wait_ms=200.0)
    bodies: list[Any] = [{"question": f"q{i}", "context": words(5)} for i in range(12)]
    bodies.insert(
        5, [{"question": "q-mate", "context": words(5)}, {"question": FAIL, "context": "a b"}]
    )
    with live(app) as server:
        responses = asyncio.run(_post_all(server.url, bodies))
    codes = [r.status_code for r in responses]
    assert codes[5] == 500 and "the model broke" in responses[5].json()["error"]
    assert codes[:5] + codes[6:] == [200] * 12
    assert [r.json()["answer"] for r in responses[:5] + responses[6:]] == [
        b["question"] for b in bodies[:5] + bodies[6:]
    ]
    shared = [call for call in sleeper.calls if FAIL in call]
    assert len(shared[0]) > 2, "the poison did not share a batch with other clients"


# -- lifecycle -------------------------------------------------------------------------------


def _model_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qa-model")]


def test_shutdown_is_clean(answerer) -> None:
    before = set(_model_threads())
    app = make_app(Recording(answerer), batching=True, **LIMITS)
    server = LiveServer(app).start()
    consumer = app.state.batcher.task
    assert consumer is not None and not consumer.done()
    assert post(server, question(3)).status_code == 200
    server.stop(timeout=5)
    assert not server.thread.is_alive(), "the server thread did not end"
    assert server.tasks_left == [], f"tasks left running: {server.tasks_left}"
    assert consumer.cancelled()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/health", timeout=2)
    with socket.socket() as sock:  # the port is free to listen on again
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", server.port))
        sock.listen()
    deadline = time.monotonic() + 5
    while set(_model_threads()) - before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not set(_model_threads()) - before, "the model thread outlived the server"


# -- command line ----------------------------------------------------------------------------


def test_serve_py_refuses_a_missing_model_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    proc = run_entry("serve.py", [f"model_dir={missing}"], tmp_path, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: model_dir=") and str(missing) in lines[0]


@pytest.mark.parametrize(
    "override, key",
    [
        ({"port": 70000}, "port="),
        ({"port": -1}, "port="),
        ({"max_batch_size": 0}, "max_batch_size="),
        ({"max_items": 0}, "max_items="),
        ({"max_request_bytes": -5}, "max_request_bytes="),
        ({"max_wait_ms": -1.0}, "max_wait_ms="),
        ({"threads": 0}, "threads="),
        ({"max_windows_per_item": 0}, "max_windows_per_item="),
        ({"body_timeout_s": 0.0}, "body_timeout_s="),
        ({"body_timeout_s": float("inf")}, "body_timeout_s="),
        ({"body_timeout_s": float("nan")}, "body_timeout_s="),
        ({"model_dir": "???"}, "model_dir is required"),
    ],
)
def test_bad_serve_settings_name_their_key(tiny_bert_dir, override: dict, key: str) -> None:
    from omegaconf import OmegaConf

    from qa_lightning.cli.serve import check_serve_config
    from qa_lightning.config import ServeConfig
    from qa_lightning.errors import ConfigError

    cfg = OmegaConf.structured(ServeConfig)
    cfg.model_dir = str(tiny_bert_dir)
    check_serve_config(cfg)  # the defaults with a real folder pass
    for k, v in override.items():
        cfg[k] = v
    with pytest.raises(ConfigError, match=key):
        check_serve_config(cfg)


def test_stopping_mid_batch_fails_its_requests_instead_of_leaving_them_waiting() -> None:
    """Past uvicorn's graceful shutdown (or with a timeout on it) a request may still wait
    on the model: stopping the batcher must answer it (503), never leave it hanging."""
    from qa_lightning.serving.batcher import MicroBatcher, ShuttingDown

    started = threading.Event()

    def slow(items: list[dict], batch_size: int) -> list[dict]:
        started.set()
        time.sleep(0.3)
        return [{"answer": "", "score": 0.0, "start": 0, "end": 0} for _ in items]

    async def scenario() -> tuple[BaseException | None, BaseException | None]:
        batcher = MicroBatcher(slow, max_batch_size=2, max_wait_ms=0)
        await batcher.start()
        running = asyncio.ensure_future(batcher.answer([question(1)]))  # in the model
        while not started.is_set():
            await asyncio.sleep(0.005)
        queued = asyncio.ensure_future(batcher.answer([question(2)]))  # still queued
        await asyncio.sleep(0.01)
        await batcher.stop()
        done = await asyncio.wait_for(
            asyncio.gather(running, queued, return_exceptions=True), timeout=2
        )
        return done[0], done[1]

    first, second = asyncio.run(scenario())
    assert isinstance(first, ShuttingDown) and isinstance(second, ShuttingDown)
