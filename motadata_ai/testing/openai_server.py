"""A real HTTP server on loopback that speaks the OpenAI chat-completions and embeddings protocol.

Tests and benchmarks point LiteLLM (``model="openai/<name>", api_base=server.base_url``) at it, so
adapters are exercised over real HTTP with no network and no mocks. Behaviour is scriptable:

    server = OpenAIServer().start()
    server.queue(Reply(status=429, retry_after=2))          # next call answers 429
    server.queue(Reply(content="hi"), Reply(tool_calls=[ToolCallReply("lookup", {"q": "x"})]))
    server.requests                                          # what arrived, in order
    server.reset()                                           # clear queue and log
    server.stop()

Endpoints: ``POST /v1/chat/completions`` (JSON or SSE with ``data: ...`` chunks, a usage chunk and
``data: [DONE]``), ``POST /v1/embeddings`` (deterministic vectors, ``float`` or ``base64``),
``GET /v1/models``. Embeddings have the real size of OpenAI's models (1536 for
``text-embedding-3-small``), the requested ``dimensions``, or 32 for other names. Without a
queued reply, a chat completion echoes the last user message (``"echo: <text>"``).

The server is a small asyncio HTTP/1.1 implementation with keep-alive (no framework on the hot
path). It runs on a thread of its own (``mode="thread"``, the default) or in a child process
(``mode="process"``, so a benchmark's client does not share the GIL with it); in process mode
``queue``/``reset``/``requests`` reach the child through ``/__admin/*`` endpoints. Run it alone
with ``python -m motadata_ai.testing.openai_server --port 8089``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import itertools
import json
import math
import os
import struct
import subprocess
import sys
import threading
import time
import urllib.request
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["OpenAIServer", "RecordedRequest", "Reply", "ToolCallReply"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("rate_limit_error", "rate_limit_exceeded"),
}
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small", "mock-model")
MAX_LOGGED_REQUESTS = 10_000
_EMBEDDING_SIZES = {
    "text-embedding-3-small": 1536,
    "text-embedding-3-large": 3072,
    "text-embedding-ada-002": 1536,
}


@dataclass
class ToolCallReply:
    """A tool call the scripted reply carries: tool ``name`` and its ``arguments`` (dict or JSON)."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the JSON string the protocol carries."""
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


@dataclass
class Reply:
    """How the server answers one request.

    ``status`` other than 200 answers an OpenAI-shaped error (``message``), with a ``Retry-After``
    header when ``retry_after`` is set. ``delay`` sleeps before answering (to provoke timeouts).
    ``content``/``tool_calls`` script a chat reply; ``finish_reason`` defaults to ``"stop"`` or
    ``"tool_calls"``. ``path`` restricts the reply to one endpoint (e.g. ``"/v1/embeddings"``);
    by default a queued reply serves the next chat or embeddings call.
    ``usage`` overrides the token counts (``{"prompt_tokens": .., "completion_tokens": ..}``).
    ``drop_connection`` closes the socket without answering. ``empty_choices`` answers 200 with
    ``"choices": []`` (embeddings: ``"data": []``), as some providers do on a filtered answer.
    ``chunk_delay`` waits that many seconds before each chunk of a stream, as a model producing
    tokens does (a client that goes away meanwhile is counted in ``OpenAIServer.streams_cut``).
    """

    status: int = 200
    content: str | None = None
    tool_calls: list[ToolCallReply] = field(default_factory=list)
    delay: float = 0.0
    retry_after: float | None = None
    message: str | None = None
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    path: str | None = None
    drop_connection: bool = False
    empty_choices: bool = False
    chunk_delay: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form (used to script a server in another process)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        """Rebuild a reply from :meth:`to_json`."""
        calls = [ToolCallReply(**c) for c in data.get("tool_calls") or []]
        return cls(**{**data, "tool_calls": calls})


@dataclass
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> Any:
        """The decoded JSON body (``None`` when there was none)."""
        return self.body


def _words(text: str) -> int:
    return len(text.split())


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def deterministic_vector(text: str, dimensions: int) -> list[float]:
    """A unit vector derived from ``text`` alone (same text, same vector)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class _State:
    """Queue, default reply and request log, shared by the server thread and the test thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        self.log: deque[RecordedRequest] = deque(maxlen=MAX_LOGGED_REQUESTS)
        self.record = True
        self.ids = itertools.count(1)
        self.streams_cut = 0

    def take(self, path: str) -> Reply | None:
        with self.lock:
            for index, reply in enumerate(self.replies):
                if reply.path is None or reply.path == path:
                    del self.replies[index]
                    return reply
            return self.default

    def reset(self) -> None:
        with self.lock:
            self.replies.clear()
            self.default = None
            self.log.clear()
            self.streams_cut = 0


class _Handler:
    """Protocol logic: turns a parsed request into a response."""

    def __init__(self, state: _State, models: Iterable[str]) -> None:
        self.state = state
        self.models = tuple(models)

    # --- framing helpers -------------------------------------------------------------------------
    @staticmethod
    def _head(status: int, headers: dict[str, str]) -> bytes:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        lines.extend(f"{k}: {v}" for k, v in headers.items())
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> bytes:
        body = json.dumps(payload, separators=(",", ":")).encode()
        headers = {"content-type": "application/json", "content-length": str(len(body))}
        if extra:
            headers.update(extra)
        return self._head(status, headers) + body

    def _error(self, reply: Reply) -> bytes:
        kind, code = _ERROR_TYPES.get(reply.status, ("server_error", None))
        message = reply.message or f"scripted error {reply.status}"
        extra = {}
        if reply.retry_after is not None:
            seconds = reply.retry_after
            extra["retry-after"] = str(int(seconds)) if float(seconds).is_integer() else str(seconds)
        return self._json(
            reply.status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, extra
        )

    # --- routing ---------------------------------------------------------------------------------
    async def handle(
        self, method: str, path: str, headers: dict[str, str], body: Any, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; return False when the connection must close."""
        path = path.split("?", 1)[0]
        if path.startswith("/__admin/"):
            writer.write(self._admin(method, path, body))
            return True
        if self.state.record:
            with self.state.lock:
                self.state.log.append(RecordedRequest(method, path, headers, body))
        if method == "GET" and path in ("/v1/models", "/models"):
            data = [{"id": m, "object": "model", "created": 0, "owned_by": "loopback"} for m in self.models]
            writer.write(self._json(200, {"object": "list", "data": data}))
            return True
        if method != "POST" or path not in (
            "/v1/chat/completions",
            "/chat/completions",
            "/v1/embeddings",
            "/embeddings",
        ):
            writer.write(self._error(Reply(status=404, message=f"no route {method} {path}")))
            return True
        if not isinstance(body, dict):
            writer.write(self._error(Reply(status=400, message="the body must be a JSON object")))
            return True
        canonical = "/v1" + path if not path.startswith("/v1") else path
        reply = self.state.take(canonical) or Reply()
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.drop_connection:
            return False
        if reply.status != 200:
            writer.write(self._error(reply))
            return True
        if canonical == "/v1/embeddings":
            writer.write(self._embeddings(body, reply))
            return True
        if body.get("stream"):
            await self._stream(body, reply, writer)
            return True
        writer.write(self._json(200, self._completion(body, reply)))
        return True

    def _admin(self, method: str, path: str, body: Any) -> bytes:
        if path == "/__admin/queue" and method == "POST":
            replies = [Reply.from_json(item) for item in body.get("replies", [])]
            with self.state.lock:
                self.state.replies.extend(replies)
            return self._json(200, {"queued": len(replies)})
        if path == "/__admin/default" and method == "POST":
            with self.state.lock:
                self.state.default = Reply.from_json(body["reply"]) if body.get("reply") else None
            return self._json(200, {"ok": True})
        if path == "/__admin/reset" and method == "POST":
            self.state.reset()
            return self._json(200, {"ok": True})
        if path == "/__admin/record" and method == "POST":
            self.state.record = bool(body.get("record", True))
            return self._json(200, {"ok": True})
        if path == "/__admin/streams" and method == "GET":
            return self._json(200, {"streams_cut": self.state.streams_cut})
        if path == "/__admin/requests" and method == "GET":
            with self.state.lock:
                items = [asdict(r) for r in self.state.log]
            return self._json(200, {"requests": items})
        return self._error(Reply(status=404, message=f"no admin route {path}"))

    # --- chat ------------------------------------------------------------------------------------
    def _reply_text(self, body: dict[str, Any], reply: Reply) -> str:
        if reply.content is not None:
            return reply.content
        if reply.tool_calls:
            return ""
        for message in reversed(body.get("messages") or []):
            if isinstance(message, dict) and message.get("role") == "user":
                return "echo: " + _content_text(message.get("content"))
        return "echo:"

    def _usage(self, body: dict[str, Any], text: str, reply: Reply) -> dict[str, int]:
        if reply.usage is not None:
            prompt = int(reply.usage.get("prompt_tokens", 0))
            completion = int(reply.usage.get("completion_tokens", 0))
        else:
            prompt = sum(
                _words(_content_text(m.get("content"))) + 1
                for m in body.get("messages") or []
                if isinstance(m, dict)
            )
            completion = _words(text) + sum(
                _words(c.name) + _words(c.arguments_json()) for c in reply.tool_calls
            )
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _tool_calls(self, reply: Reply, request_id: int) -> list[dict[str, Any]]:
        return [
            {
                "id": call.id or f"call_{request_id}_{index}",
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for index, call in enumerate(reply.tool_calls)
        ]

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        request_id = next(self.state.ids)
        text = self._reply_text(body, reply)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text if text or not reply.tool_calls else None,
        }
        if reply.tool_calls:
            message["tool_calls"] = self._tool_calls(reply, request_id)
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        return {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "mock-model"),
            "system_fingerprint": "fp_loopback",
            "choices": []
            if reply.empty_choices
            else [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
            "usage": self._usage(body, text, reply),
        }

    async def _stream(self, body: dict[str, Any], reply: Reply, writer: asyncio.StreamWriter) -> None:
        request_id = next(self.state.ids)
        text = self._reply_text(body, reply)
        base = {
            "id": f"chatcmpl-{request_id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": body.get("model", "mock-model"),
            "system_fingerprint": "fp_loopback",
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            payload = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            }
            return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

        parts = [chunk({"role": "assistant", "content": ""})]
        words = text.split(" ") if text else []
        for index, word in enumerate(words):
            parts.append(chunk({"content": word if index == 0 else " " + word}))
        for index, call in enumerate(self._tool_calls(reply, request_id)):
            arguments = call["function"]["arguments"]
            head = {"index": index, "id": call["id"], "type": "function"}
            parts.append(
                chunk(
                    {
                        "tool_calls": [
                            {**head, "function": {"name": call["function"]["name"], "arguments": ""}}
                        ]
                    }
                )
            )
            step = max(1, len(arguments) // 3)
            for start in range(0, len(arguments), step):
                piece = arguments[start : start + step]
                parts.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        finish = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        parts.append(chunk({}, finish))
        if reply.empty_choices:
            parts = []  # only the usage chunk, whose choices are always empty
        usage_payload = {**base, "choices": [], "usage": self._usage(body, text, reply)}
        parts.append(b"data: " + json.dumps(usage_payload, separators=(",", ":")).encode() + b"\n\n")
        parts.append(b"data: [DONE]\n\n")
        headers = {
            "content-type": "text/event-stream",
            "cache-control": "no-cache",
            "transfer-encoding": "chunked",
        }
        writer.write(self._head(200, headers))
        for part in parts:
            if reply.chunk_delay:
                await asyncio.sleep(reply.chunk_delay)
                if writer.is_closing():
                    self._stream_cut()
                    return
            writer.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            if reply.chunk_delay:
                try:
                    await writer.drain()
                except ConnectionError:
                    self._stream_cut()
                    return
        writer.write(b"0\r\n\r\n")

    def _stream_cut(self) -> None:
        with self.state.lock:
            self.state.streams_cut += 1

    # --- embeddings ------------------------------------------------------------------------------
    def _embeddings(self, body: dict[str, Any], reply: Reply) -> bytes:
        raw = body.get("input")
        if isinstance(raw, str):
            inputs = [raw]
        elif isinstance(raw, list) and raw and all(isinstance(i, int) for i in raw):
            inputs = [" ".join(map(str, raw))]
        elif isinstance(raw, list) and raw:
            inputs = [x if isinstance(x, str) else " ".join(map(str, x)) for x in raw]
        else:
            return self._error(Reply(status=400, message="'input' must be a string or a non-empty list"))
        dimensions = int(body.get("dimensions") or _EMBEDDING_SIZES.get(str(body.get("model")), 32))
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for index, text in enumerate(inputs):
            vector = deterministic_vector(text, dimensions)
            embedding: Any = (
                base64.b64encode(struct.pack(f"<{dimensions}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = int(reply.usage.get("prompt_tokens", 0)) if reply.usage else sum(_words(t) for t in inputs)
        return self._json(
            200,
            {
                "object": "list",
                "data": [] if reply.empty_choices else data,
                "model": body.get("model", "text-embedding-3-small"),
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )


async def _serve_connection(
    handler: _Handler, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            try:
                request_line = await reader.readline()
            except (ConnectionError, asyncio.LimitOverrunError, ValueError):
                return
            if not request_line:
                return
            try:
                method, target, _ = request_line.decode("latin-1").split(" ", 2)
            except ValueError:
                return
            headers: dict[str, str] = {}
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b"\n", b""):
                    break
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            raw = b""
            if headers.get("transfer-encoding", "").lower() == "chunked":
                pieces = []
                while True:
                    size = int((await reader.readline()).strip() or b"0", 16)
                    if size == 0:
                        await reader.readline()
                        break
                    pieces.append(await reader.readexactly(size))
                    await reader.readline()
                raw = b"".join(pieces)
            elif "content-length" in headers:
                raw = await reader.readexactly(int(headers["content-length"]))
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            keep = await handler.handle(method, target, headers, body, writer)
            await writer.drain()
            if not keep or headers.get("connection", "").lower() == "close":
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    except asyncio.CancelledError:  # server shutdown: end the connection quietly
        return
    finally:
        writer.close()


class OpenAIServer:
    """The loopback OpenAI-protocol server; ``start()`` binds a free port (or ``port``)."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        mode: str = "thread",
        models: Iterable[str] = DEFAULT_MODELS,
    ) -> None:
        if mode not in ("thread", "process"):
            raise ValueError("mode must be 'thread' or 'process'")
        self.host = host
        self.port = port
        self.mode = mode
        self.models = tuple(models)
        self._state = _State()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._process: subprocess.Popen[bytes] | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://host:port/v1`` (what ``api_base`` takes)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def url(self) -> str:
        """``http://host:port`` (no path)."""
        return f"http://{self.host}:{self.port}"

    def start(self) -> OpenAIServer:
        """Start serving and return once the port accepts connections. With ``port=0`` the
        server binds port 0 and takes the port the kernel chose (no other process can take it
        between a free-port probe and the bind)."""
        if self.mode == "process":
            self._start_process()
        else:
            self._start_thread()
        return self

    def _start_thread(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            handler = _Handler(self._state, self.models)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(
                        lambda r, w: _serve_connection(handler, r, w), self.host, self.port, backlog=1024
                    )
                )
            except BaseException as error:
                failure.append(error)
                ready.set()
                return
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="openai-loopback", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise RuntimeError(f"the loopback OpenAI server could not bind {self.url}") from failure[0]

    def _start_process(self) -> None:
        command = [sys.executable, "-m", "motadata_ai.testing.openai_server", "--host", self.host]
        command += ["--port", str(self.port)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        stdout = self._process.stdout
        assert stdout is not None
        announced: list[bytes] = []
        reader = threading.Thread(target=lambda: announced.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(20)  # the child prints "serving http://host:port/v1" once it listens
        line = announced[0].decode(errors="replace").strip() if announced else ""
        if not line.startswith("serving http://"):
            code = self._process.poll()
            self.stop()
            raise RuntimeError(
                f"the loopback OpenAI server did not start on {self.host} "
                f"({'exited with ' + str(code) if code is not None else 'no answer in 20 s'})"
            )
        self.port = int(line.rsplit(":", 1)[1].split("/", 1)[0])

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._process is not None:
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process.terminate()
            try:
                self._process.wait(5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._loop is not None and self._server is not None:
            loop, server = self._loop, self._server

            async def shutdown() -> None:
                server.close()
                current = asyncio.current_task()
                tasks = [t for t in asyncio.all_tasks() if t is not current]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
            finally:
                loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(5)
            self._loop = self._server = self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting -------------------------------------------------------------------------------
    def _admin(self, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method="POST" if data is not None else "GET",
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def queue(self, *replies: Reply) -> None:
        """Append replies; each serves one later request (FIFO, matching ``Reply.path``)."""
        if self.mode == "process":
            self._admin("/__admin/queue", {"replies": [r.to_json() for r in replies]})
            return
        with self._state.lock:
            self._state.replies.extend(replies)

    def set_default(self, reply: Reply | None) -> None:
        """The reply used when the queue is empty (``None``: echo the last user message)."""
        if self.mode == "process":
            self._admin("/__admin/default", {"reply": reply.to_json() if reply else None})
            return
        with self._state.lock:
            self._state.default = reply

    def set_recording(self, record: bool) -> None:
        """Turn the request log on or off (benchmarks turn it off)."""
        if self.mode == "process":
            self._admin("/__admin/record", {"record": record})
            return
        self._state.record = record

    def reset(self) -> None:
        """Forget queued replies, the default reply and the request log."""
        if self.mode == "process":
            self._admin("/__admin/reset", {})
            return
        self._state.reset()

    @property
    def requests(self) -> list[RecordedRequest]:
        """The requests received since the last ``reset()`` (the latest 10,000), oldest first."""
        if self.mode == "process":
            return [RecordedRequest(**item) for item in self._admin("/__admin/requests")["requests"]]
        with self._state.lock:
            return list(self._state.log)

    @property
    def streams_cut(self) -> int:
        """Streams (with ``chunk_delay``) whose client went away before their last chunk."""
        if self.mode == "process":
            return int(self._admin("/__admin/streams")["streams_cut"])
        return self._state.streams_cut

    def chat_requests(self) -> list[RecordedRequest]:
        """Only the chat-completion requests."""
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


def main(argv: list[str] | None = None) -> None:
    """Serve in the foreground until interrupted."""
    parser = argparse.ArgumentParser(description="Loopback OpenAI-protocol server for tests and benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8089")))
    args = parser.parse_args(argv)
    state = _State()
    handler = _Handler(state, DEFAULT_MODELS)

    async def serve() -> None:
        server = await asyncio.start_server(
            lambda r, w: _serve_connection(handler, r, w), args.host, args.port, backlog=1024
        )
        port = server.sockets[0].getsockname()[1]  # the kernel's choice for --port 0
        print(f"serving http://{args.host}:{port}/v1", flush=True)
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
