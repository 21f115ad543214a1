"""The HTTP service under load: requests/s and p50/p95 latency with dynamic batching on
and off, for 1 and 16 concurrent clients (closed loop: each client sends its next request
when its last one is answered). One request is one question of the v1 dev subset.

For each batching mode the script starts a server (``make_app`` + uvicorn, as serve.py
builds it); for each client count it warms the server up (one request per client), then
times ``--requests`` requests or ``--seconds``, whichever ends first, taking the questions
in the same order in every cell. It checks that every reply is a 200, compares the answers
with batching on and off on the questions both answered, stops the server (also on error)
and prints a markdown table. On 2 CPU cores with MiniLM (about 27 requests/s) a default
run takes about 3 minutes; on a busy machine the 60 s limit per cell bounds it to about 5.

The server runs in a child process (this module, started with ``--serve-fd`` on a socket
the parent already listens on), not in a thread: in one process the clients' event loop,
the server's event loop and its model thread hand the GIL to each other on every request,
which with the tiny test model and one client made the median latency 50 ms instead of
5 ms. ``--server thread`` (the tests' LiveServer way) is kept to show that effect.

    .venv/bin/python -m benchmarks.bench_service --model outputs/.../best_model \
        [--clients 1,16] [--requests 960] [--seconds 60] [--backend torch|onnx]
        [--quantized] [--threads N] [--max-batch-size 16] [--max-wait-ms 0]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmarks.common import ROOT, SQUAD, print_table

DEFAULT_DATA = SQUAD / "squad_v1_dev_subset.json"
TIMEOUT_S = 300.0  # one request may wait behind 15 others answered one by one
START_TIMEOUT_S = 300.0  # model loading on a busy machine


@dataclass
class Cell:
    """One timed (batching, clients) run: what the clients saw."""

    batching: bool
    clients: int
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    answers: dict[int, dict] = field(default_factory=dict)  # question index -> reply
    errors: list[str] = field(default_factory=list)  # non-200 replies and failed requests

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)


def load_items(path: Path, n: int, seed: int = 0) -> list[dict]:
    """``n`` questions drawn at random from the whole file (its first questions all share one
    article, so one context length), each as the body of one request."""
    from qa_lightning.data import read_squad_json

    if not path.is_file():
        sys.exit(f"error: {path} not found (--data: a SQuAD JSON file)")
    data = read_squad_json(path)
    if n > len(data):
        sys.exit(f"error: {n} questions needed, {path} has {len(data)}")
    rows = random.Random(seed).sample(range(len(data)), n)
    return [{"question": data[r]["question"], "context": data[r]["context"]} for r in rows]


# --- the server -------------------------------------------------------------------------


class ServerDidNotStart(RuntimeError):
    """The server exited, or did not answer /health in time; its own errors say why."""


def build_app(args: argparse.Namespace, batching: bool):
    """The service as serve.py builds it."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    from qa_lightning.inference import Answerer
    from qa_lightning.serving.app import make_app

    hf_logging.disable_progress_bar()  # the weight-loading bar, once per server
    answerer = Answerer.from_folder(
        args.model, backend=args.backend, quantized=args.quantized, threads=args.threads
    )
    return make_app(
        answerer,
        batching=batching,
        max_batch_size=args.max_batch_size,
        max_wait_ms=args.max_wait_ms,
    )


def listening_socket() -> socket.socket:
    """A socket on a free local port, already listening: clients can connect (and wait in
    its backlog) before the server accepts, so there is no port to race for."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


def serve_child(args: argparse.Namespace) -> None:
    """The child process: serve on the inherited socket until SIGTERM (uvicorn then lets
    open requests finish and runs the lifespan's shutdown)."""
    import uvicorn

    sock = socket.socket(fileno=args.serve_fd)
    app = build_app(args, args.batching == "on")
    config = uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


class ProcessServer:
    """The server in a child process; ``stop`` terminates it and waits."""

    def __init__(self, args: argparse.Namespace, batching: bool) -> None:
        self.sock = listening_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        fd = self.sock.fileno()
        command = [sys.executable, "-m", "benchmarks.bench_service", *server_args(args)]
        command += ["--serve-fd", str(fd), "--batching", "on" if batching else "off"]
        self.proc = subprocess.Popen(command, cwd=ROOT, pass_fds=[fd])
        self.sock.close()  # the child has its own copy

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class ThreadServer:
    """The server in a thread of this process, with its own event loop (tests' LiveServer)."""

    def __init__(self, args: argparse.Namespace, batching: bool) -> None:
        import uvicorn

        self.sock = listening_socket()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            build_app(args, batching), lifespan="on", log_config=None, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self.thread.start()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def server_args(args: argparse.Namespace) -> list[str]:
    """The options the child needs to build the same service."""
    out = ["--model", args.model, "--backend", args.backend]
    out += ["--max-batch-size", str(args.max_batch_size), "--max-wait-ms", str(args.max_wait_ms)]
    if args.quantized:
        out.append("--quantized")
    if args.threads is not None:
        out += ["--threads", str(args.threads)]
    return out


def wait_ready(server: ProcessServer | ThreadServer) -> dict:
    """``/health`` once the model is loaded (connections wait in the backlog until then)."""
    import httpx

    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if not server.alive():
            raise ServerDidNotStart("the server exited before answering /health (see its errors)")
        try:
            reply = httpx.get(f"{server.url}/health", timeout=5)
            reply.raise_for_status()
            return reply.json()
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise ServerDidNotStart(f"no /health after {START_TIMEOUT_S:.0f} s") from None
            time.sleep(0.5)


# --- the clients ------------------------------------------------------------------------


async def run_cell(
    url: str, items: list[dict], warm_up: list[dict], cell: Cell, seconds: float
) -> None:
    """``cell.clients`` clients, one keep-alive connection each, take the next question of
    ``items`` in turn and send their requests back to back, until the questions run out or
    ``seconds`` have passed (0: no limit; requests in flight then finish). One untimed
    request each first: connections open, model warm, batcher running."""
    import httpx

    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with contextlib.AsyncExitStack() as stack:
        pool = [
            await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, timeout=TIMEOUT_S, limits=limits)
            )
            for _ in range(cell.clients)
        ]

        async def warm(client: httpx.AsyncClient, item: dict) -> None:
            reply = await client.post("/predict", json=item)
            if reply.status_code != 200:
                cell.errors.append(f"warm-up: {reply.status_code} {reply.text[:200]}")

        await asyncio.gather(*(warm(c, warm_up[i % len(warm_up)]) for i, c in enumerate(pool)))

        questions = iter(range(len(items)))  # shared: one event loop, no lock needed
        begun = time.perf_counter()
        deadline = begun + seconds if seconds > 0 else float("inf")

        async def send(client: httpx.AsyncClient) -> None:
            for i in questions:
                if time.perf_counter() > deadline:
                    break
                started = time.perf_counter()
                try:
                    reply = await client.post("/predict", json=items[i])
                except httpx.HTTPError as err:
                    cell.errors.append(f"question {i}: {type(err).__name__}: {err}")
                    continue
                cell.latencies_ms.append((time.perf_counter() - started) * 1000)
                if reply.status_code == 200:
                    cell.answers[i] = reply.json()
                else:
                    cell.errors.append(f"question {i}: {reply.status_code} {reply.text[:200]}")

        await asyncio.gather(*(send(c) for c in pool))
        cell.seconds = time.perf_counter() - begun


# --- the report -------------------------------------------------------------------------


def compare(on: Cell, off: Cell, items: list[dict]) -> tuple[int, int, float]:
    """(identical, compared, largest score difference): an answer is identical when its
    text and span are; every mismatch is printed."""
    same, worst = 0, 0.0
    both = sorted(on.answers.keys() & off.answers.keys())
    for i in both:
        a, b = on.answers[i], off.answers[i]
        worst = max(worst, abs(a["score"] - b["score"]))
        if (a["answer"], a["start"], a["end"]) == (b["answer"], b["start"], b["end"]):
            same += 1
        else:
            print(
                f"  MISMATCH ({on.clients} clients) question {i} {items[i]['question']!r}: "
                f"on {a['answer']!r} [{a['start']}:{a['end']}] p={a['score']:.4f}, "
                f"off {b['answer']!r} [{b['start']}:{b['end']}] p={b['score']:.4f}"
            )
    return same, len(both), worst


def row(cell: Cell, ratio: str, identical: str) -> list:
    p50, p95 = np.percentile(cell.latencies_ms, [50, 95]) if cell.latencies_ms else (0, 0)
    rate = cell.requests / cell.seconds if cell.seconds else 0.0
    return [
        cell.clients,
        "on" if cell.batching else "off",
        cell.requests,
        len(cell.errors),
        cell.seconds,
        rate,
        float(p50),
        float(p95),
        ratio,
        identical,
    ]


def report(cells: dict[tuple[bool, int], Cell], items: list[dict], clients: list[int]) -> None:
    rows = []
    for n in clients:
        on, off = cells.get((True, n)), cells.get((False, n))
        ratio, identical = "-", "-"
        if on and off and on.seconds and off.seconds:
            ratio = f"{(on.requests / on.seconds) / (off.requests / off.seconds):.2f}x"
            same, compared, worst = compare(on, off, items)
            identical = f"{same}/{compared}"
            print(f"  {n} clients: {identical} identical answers, max |score diff| {worst:.2e}")
        rows += [row(c, ratio, identical) for c in (on, off) if c is not None]
    print_table(
        "HTTP service under load (closed loop, one question per request)",
        [
            "clients",
            "batching",
            "requests",
            "errors",
            "seconds",
            "requests/s",
            "p50 ms",
            "p95 ms",
            "on/off req/s",
            "identical answers",
        ],
        rows,
    )


# --- main -------------------------------------------------------------------------------


def client_counts(text: str) -> list[int]:
    try:
        counts = [int(c) for c in text.split(",") if c.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a comma-separated list of integers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: client counts are positive integers")
    return counts


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="saved or exported model folder")
    parser.add_argument("--backend", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--quantized", action="store_true", help="onnx int8 model")
    parser.add_argument("--threads", type=int, default=None, help="model threads (default: all)")
    parser.add_argument("--clients", type=client_counts, default=[1, 16], help="e.g. 1,16")
    parser.add_argument(
        "--requests", type=int, default=960, help="timed requests per cell (at most)"
    )
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit per cell (0: none)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="SQuAD JSON file")
    parser.add_argument("--max-batch-size", type=int, default=16)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument(
        "--server",
        choices=("process", "thread"),
        default="process",
        help="where the server runs (process: no GIL shared with the clients)",
    )
    parser.add_argument("--modes", default="on,off", help="batching modes to run, e.g. on")
    # the child process's own options
    parser.add_argument("--serve-fd", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--batching", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - {"on", "off"}:
        parser.error("--modes: on, off or on,off")
    args.model = str(Path(args.model).resolve())  # the child runs in the repository root
    if args.serve_fd is None and args.requests < max(args.clients):
        parser.error(f"--requests {args.requests} leaves some of {max(args.clients)} clients idle")
    return args


def main() -> None:
    args = parse_args()
    if args.serve_fd is not None:
        serve_child(args)
        return
    import httpx

    items = load_items(args.data, args.requests + max(args.clients))
    items, warm_up = items[: args.requests], items[args.requests :]
    print(
        f"{args.requests} requests or {args.seconds:g} s per cell, clients {args.clients}, server in a "
        f"{args.server}, max_batch_size {args.max_batch_size}, max_wait_ms {args.max_wait_ms:g}",
        flush=True,
    )
    begun = time.perf_counter()
    cells: dict[tuple[bool, int], Cell] = {}
    for batching in (mode == "on" for mode in args.modes):
        kind = ProcessServer if args.server == "process" else ThreadServer
        server = kind(args, batching)
        try:
            health = wait_ready(server)
            print(f"server: {health}", flush=True)
            for n in args.clients:
                cell = cells[batching, n] = Cell(batching, n)
                asyncio.run(run_cell(server.url, items, warm_up, cell, args.seconds))
                _, on_off, _, errors, seconds, rate, p50, p95, _, _ = row(cell, "", "")
                print(
                    f"  batching {on_off}, {n} clients: {cell.requests} requests in "
                    f"{seconds:.1f} s, {rate:.2f}/s, p50 {p50:.0f} ms, p95 {p95:.0f} ms, "
                    f"{errors} errors",
                    flush=True,
                )
                for error in cell.errors[:5]:
                    print(f"    {error}", flush=True)
        except ServerDidNotStart as err:
            sys.exit(f"error: {err}")
        except httpx.HTTPError as err:
            sys.exit(f"error: the server did not answer: {type(err).__name__}: {err}")
        finally:
            server.stop()
    report(cells, items, args.clients)
    print(f"\ntotal wall time {time.perf_counter() - begun:.0f} s (data loading excluded)")
    errors = sum(len(c.errors) for c in cells.values())
    if errors:
        sys.exit(f"error: {errors} requests did not get a 200 (see above)")


if __name__ == "__main__":
    main()
