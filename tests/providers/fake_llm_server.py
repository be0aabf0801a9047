"""A fake vision-LLM server on 127.0.0.1 for the official SDKs (openai, anthropic, google-genai).

It speaks just enough of each wire protocol: OpenAI chat completions, the Responses API, files
and batches; Anthropic messages and Message Batches; Gemini generateContent and batch mode; the model lists of each (`/v1/models` in OpenAI's and
Anthropic's shapes, Gemini's `/v1beta/models`), Ollama's `/api/tags` + `/api/show` when `ollama`
is set, and llama.cpp's `/props` with `total_slots` when `slots` is set (the server then answers
at most that many annotation requests at once, each after `latency` seconds, like a real one). Every request is decoded (including its image) and
passed to `server.script`, which picks the behaviour: a good answer, 429 with Retry-After, 500,
a timeout (sleeping past the client's timeout), a refusal, malformed JSON, free text or 401.
Good answers are derived from the image's colour, so a test can check each image got its own.
Error bodies echo the API key the client sent, the worst case for leaking it into our records.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import io
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from PIL import Image

Behaviour = Literal[
    "ok", "429", "500", "timeout", "refusal", "content_filter", "malformed", "text", "401", "404"
]
Protocol = Literal["openai", "anthropic", "google", "responses"]
LEVEL = 51  # colour channels are quantised to multiples of 51, which survive JPEG exactly enough


def colour_of(image: Image.Image) -> tuple[int, int, int]:
    """The image's mean colour, quantised to multiples of LEVEL."""
    small = image.convert("RGB").resize((1, 1), Image.Resampling.BOX)
    pixel = small.getpixel((0, 0))
    assert isinstance(pixel, tuple)
    r, g, b = (round(channel / LEVEL) * LEVEL for channel in pixel[:3])
    return r, g, b


def expected_answer(colour: tuple[int, int, int]) -> dict[str, Any]:
    """What the fake model says about a flat image of this colour."""
    r, g, b = colour
    return {
        "tags": ["flat color", f"color {r} {g} {b}"],
        "caption": f"A flat image in the colour {r}, {g}, {b}.",
        "score": float(1 + (r + g + b) // LEVEL % 10),
    }


@dataclass
class FakeRequest:
    protocol: Protocol
    index: int  # 1-based, across all annotation requests this server received
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    image: Image.Image | None

    @property
    def colour(self) -> tuple[int, int, int] | None:
        return colour_of(self.image) if self.image is not None else None

    @property
    def api_key(self) -> str:
        auth = self.headers.get("authorization", "")
        return (
            auth.removeprefix("Bearer ")
            or self.headers.get("x-api-key", "")
            or self.headers.get("x-goog-api-key", "")
        )


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


def _decode_image(data: str) -> Image.Image | None:
    try:
        # google-genai sends URL-safe base64; the others standard base64
        image = Image.open(io.BytesIO(base64.b64decode(data.replace("-", "+").replace("_", "/"))))
        image.load()
        return image
    except (OSError, ValueError):
        return None


def _openai_image(body: dict[str, Any]) -> Image.Image | None:
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if part.get("type") == "image_url":
                    return _decode_image(part["image_url"]["url"].split(",", 1)[1])
    return None


def _responses_image(body: dict[str, Any]) -> Image.Image | None:
    for item in body.get("input", []):
        for part in item.get("content", []) if isinstance(item, dict) else []:
            if isinstance(part, dict) and part.get("type") == "input_image":
                return _decode_image(str(part["image_url"]).split(",", 1)[1])
    return None


def _anthropic_image(body: dict[str, Any]) -> Image.Image | None:
    for message in body.get("messages", []):
        for part in message.get("content", []):
            if isinstance(part, dict) and part.get("type") == "image":
                return _decode_image(part["source"]["data"])
    return None


def _google_image(body: dict[str, Any]) -> Image.Image | None:
    for content in body.get("contents", []):
        for part in content.get("parts", []):
            inline = part.get("inlineData") or part.get("inline_data")
            if inline:
                return _decode_image(inline["data"])
    return None


USAGE_IN, USAGE_OUT, USAGE_THINKING = 100, 20, 7  # output includes thinking, as billed
MALFORMED = 'Sure! Here is the annotation: {"tags": ["unterminated'


def _answer_text(request: FakeRequest) -> str:
    colour = request.colour or (0, 0, 0)
    return json.dumps(expected_answer(colour))


def _free_text(request: FakeRequest) -> str:
    answer = expected_answer(request.colour or (0, 0, 0))
    return (
        "Here is what I see.\n"
        f"Tags: {', '.join(answer['tags'])}\n"
        f"Caption: {answer['caption']}\n"
        f"Score: {answer['score']}\n"
    )


def _error_body(protocol: Protocol, status: int, message: str) -> dict[str, Any]:
    if protocol == "anthropic":
        kinds = {
            401: "authentication_error",
            404: "not_found_error",
            429: "rate_limit_error",
            500: "api_error",
        }
        return {"type": "error", "error": {"type": kinds.get(status, "api_error"), "message": message}}
    if protocol == "google":
        statuses = {401: "UNAUTHENTICATED", 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}
        return {"error": {"code": status, "message": message, "status": statuses.get(status, "INTERNAL")}}
    codes = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded", 500: "server_error"}
    return {"error": {"message": message, "type": "error", "param": None, "code": codes.get(status)}}


def openai_completion(request: FakeRequest, behaviour: Behaviour) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish = "stop"
    if behaviour == "refusal":
        message["refusal"] = "I'm sorry, I can't help with that image."
    elif behaviour == "content_filter":
        finish = "content_filter"
    elif behaviour == "malformed":
        message["content"] = MALFORMED
    elif behaviour == "text":
        message["content"] = _free_text(request)
    else:
        message["content"] = _answer_text(request)
    return {
        "id": f"chatcmpl-{request.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": USAGE_IN,
            "completion_tokens": USAGE_OUT,
            "total_tokens": USAGE_IN + USAGE_OUT,
            "completion_tokens_details": {"reasoning_tokens": USAGE_THINKING},
        },
    }


def openai_response(request: FakeRequest, behaviour: Behaviour) -> dict[str, Any]:
    """A Responses API result: a message item with output_text (or refusal) parts."""
    content: list[dict[str, Any]]
    incomplete = None
    status = "completed"
    if behaviour == "refusal":
        content = [{"type": "refusal", "refusal": "I'm sorry, I can't help with that image."}]
    elif behaviour == "content_filter":
        content, status, incomplete = [], "incomplete", {"reason": "content_filter"}
    else:
        text = {"malformed": MALFORMED, "text": _free_text(request)}.get(behaviour) or _answer_text(request)
        content = [{"type": "output_text", "text": text, "annotations": []}]
    return {
        "id": f"resp_{request.index}",
        "object": "response",
        "created_at": int(time.time()),
        "model": request.body.get("model", ""),
        "status": status,
        "incomplete_details": incomplete,
        "output": [
            {
                "type": "message",
                "id": f"msg_{request.index}",
                "role": "assistant",
                "status": "completed",
                "content": content,
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": USAGE_IN,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": USAGE_OUT,
            "output_tokens_details": {"reasoning_tokens": USAGE_THINKING},
            "total_tokens": USAGE_IN + USAGE_OUT,
        },
    }


def anthropic_message(request: FakeRequest, behaviour: Behaviour) -> dict[str, Any]:
    content: list[dict[str, Any]]
    stop = "end_turn"
    if behaviour in ("refusal", "content_filter"):
        content, stop = [], "refusal"
    elif behaviour == "malformed":
        content = [{"type": "text", "text": MALFORMED}]
    elif behaviour == "text" or not request.body.get("tools"):
        text = _free_text(request) if behaviour == "text" else _answer_text(request)
        content = [{"type": "text", "text": text}]
    else:
        tool = request.body["tools"][0]["name"]
        answer = expected_answer(request.colour or (0, 0, 0))
        content = [{"type": "tool_use", "id": f"toolu_{request.index}", "name": tool, "input": answer}]
        stop = "tool_use"
    return {
        "id": f"msg_{request.index}",
        "type": "message",
        "role": "assistant",
        "model": request.body.get("model", ""),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT},
    }


def google_response(request: FakeRequest, behaviour: Behaviour) -> dict[str, Any]:
    usage = {  # Gemini reports thoughts apart from the answer
        "promptTokenCount": USAGE_IN,
        "candidatesTokenCount": USAGE_OUT - USAGE_THINKING,
        "thoughtsTokenCount": USAGE_THINKING,
        "totalTokenCount": USAGE_IN + USAGE_OUT,
    }
    if behaviour == "refusal":
        return {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": usage}
    if behaviour == "content_filter":
        candidate: dict[str, Any] = {"finishReason": "SAFETY", "index": 0}
        return {"candidates": [candidate], "usageMetadata": usage}
    text = {"malformed": MALFORMED, "text": _free_text(request)}.get(behaviour) or _answer_text(request)
    candidate = {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "fake"}


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any]
    output_file_id: str
    total: int
    failed: int
    polls: int = 0


@dataclass
class FakeLLMServer:
    """Start with `with FakeLLMServer() as server:`; `server.url` is the root URL."""

    script: Callable[[FakeRequest], Behaviour] = field(default=lambda request: "ok")
    retry_after: str = "0"
    timeout_sleep: float = 1.0
    required_key: str | None = None
    batch_polls_until_complete: int = 1
    served_models: list[dict[str, Any]] = field(
        default_factory=lambda: [
            {"id": "qwen-test", "architecture": {"input_modalities": ["text", "image"]}},
            {"id": "text-only", "architecture": {"input_modalities": ["text"]}},
            {"id": "unsaid"},
        ]
    )
    ollama: bool = False
    slots: int | None = None
    latency: float = 0.0
    requests: list[FakeRequest] = field(default_factory=list)
    raw: list[Recorded] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, _Batch] = field(default_factory=dict)
    cloud_batches: dict[str, dict[str, Any]] = field(default_factory=dict)  # Anthropic's and Gemini's

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self._ids = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._slots = threading.BoundedSemaphore(self.slots) if self.slots else None
        self.in_flight = 0
        self.max_in_flight = 0

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FakeLLMServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + "/v1"

    def annotation_requests(self, protocol: Protocol | None = None) -> list[FakeRequest]:
        with self._lock:
            return [r for r in self.requests if protocol is None or r.protocol == protocol]

    # -- request handling ---------------------------------------------------------------------

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}-{next(self._ids)}"

    def _decide(
        self,
        protocol: Protocol,
        path: str,
        headers: dict[str, str],
        body: dict[str, Any],
        *,
        check_key: bool = True,
    ) -> tuple[FakeRequest, Behaviour]:
        extract = {
            "openai": _openai_image,
            "responses": _responses_image,
            "anthropic": _anthropic_image,
            "google": _google_image,
        }
        image = extract[protocol](body)
        with self._lock:
            request = FakeRequest(protocol, next(self._counter), path, headers, body, image)
            self.requests.append(request)
        if check_key and not self.key_ok(request.api_key):
            return request, "401"
        return request, self.script(request)

    def key_ok(self, key: str) -> bool:
        return self.required_key is None or key == self.required_key

    def chat_result(self, request: FakeRequest, behaviour: Behaviour) -> tuple[int, dict[str, Any]]:
        """Status and body for one annotation request (shared by live calls and batches)."""
        codes = {"429": 429, "500": 500, "401": 401, "404": 404}
        if behaviour in codes:
            status = codes[behaviour]
            model = request.body.get("model") or request.path.rpartition("/models/")[2].split(":")[0]
            message = {
                401: f"Incorrect API key provided: {request.api_key}",
                404: {  # each service's own wording for a retired or unknown model
                    "openai": f"The model `{model}` does not exist or you do not have access to it.",
                    "responses": f"The model `{model}` does not exist or you do not have access to it.",
                    "anthropic": f"model: {model}",
                    "google": f"models/{model} is not found for API version v1beta.",
                }[request.protocol],
                429: "Rate limit reached, slow down",
                500: f"The server had an error processing request with key {request.api_key}",
            }[status]
            return status, _error_body(request.protocol, status, message)
        builder = {
            "openai": openai_completion,
            "responses": openai_response,
            "anthropic": anthropic_message,
            "google": google_response,
        }
        return 200, builder[request.protocol](request, behaviour)

    def run_batch(self, input_file_id: str) -> tuple[bytes, int, int]:
        """Answer every line of an uploaded request file; return output JSONL, total and failed."""
        lines = []
        failed = 0
        for raw in self.files[input_file_id].decode("utf-8").splitlines():
            if not raw.strip():
                continue
            item = json.loads(raw)
            request, behaviour = self._decide("openai", item["url"], {}, item["body"], check_key=False)
            if behaviour == "timeout":
                behaviour = "500"
            status, body = self.chat_result(request, behaviour)
            failed += status != 200
            lines.append(
                json.dumps(
                    {
                        "id": f"batch_req_{request.index}",
                        "custom_id": item["custom_id"],
                        "response": {
                            "status_code": status,
                            "request_id": f"req_{request.index}",
                            "body": body,
                        },
                        "error": None,
                    }
                )
            )
        return ("\n".join(lines) + "\n").encode(), len(lines), failed

    def answer_all(
        self, protocol: Protocol, bodies: list[dict[str, Any]]
    ) -> list[tuple[int, dict[str, Any]]]:
        """Status and body for each request of an Anthropic or Gemini batch (timeouts become 500s)."""
        answers = []
        for body in bodies:
            request, behaviour = self._decide(protocol, "batch", {}, body, check_key=False)
            answers.append(self.chat_result(request, "500" if behaviour == "timeout" else behaviour))
        return answers

    def anthropic_batch(self, batch_id: str) -> dict[str, Any]:
        batch = self.cloud_batches[batch_id]
        done = batch["polls"] >= self.batch_polls_until_complete
        failed = sum(status != 200 for status, _ in batch["answers"])
        total = len(batch["answers"])
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": "ended" if done else "in_progress",
            "request_counts": {
                "processing": 0 if done else total,
                "succeeded": total - failed if done else 0,
                "errored": failed if done else 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2026-12-01T00:00:00Z",
            "expires_at": "2026-12-02T00:00:00Z",
            "ended_at": "2026-12-01T00:01:00Z" if done else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.url}/v1/messages/batches/{batch_id}/results" if done else None,
        }

    def anthropic_results(self, batch_id: str) -> bytes:
        batch = self.cloud_batches[batch_id]
        lines = []
        for custom_id, (status, body) in zip(batch["ids"], batch["answers"], strict=True):
            result = (
                {"type": "succeeded", "message": body}
                if status == 200
                else {"type": "errored", "error": {"type": "error", "error": body["error"]}}
            )
            lines.append(json.dumps({"custom_id": custom_id, "result": result}))
        return ("\n".join(lines) + "\n").encode()

    def gemini_batch(self, batch_id: str) -> dict[str, Any]:
        batch = self.cloud_batches[batch_id]
        done = batch["polls"] >= self.batch_polls_until_complete
        metadata: dict[str, Any] = {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "model": batch["model"],
            "state": "BATCH_STATE_SUCCEEDED" if done else "BATCH_STATE_RUNNING",
        }
        if done:
            responses = [
                {"response": body, "metadata": meta}
                if status == 200
                else {"error": body["error"], "metadata": meta}
                for meta, (status, body) in zip(batch["ids"], batch["answers"], strict=True)
            ]
            metadata["output"] = {"inlinedResponses": {"inlinedResponses": responses}}
        return {"name": batch_id, "metadata": metadata, "done": done}

    def batch_object(self, batch: _Batch) -> dict[str, Any]:
        done = batch.polls >= self.batch_polls_until_complete
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "errors": None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": "completed" if done else "in_progress",
            "output_file_id": batch.output_file_id if done else None,
            "error_file_id": None,
            "created_at": int(time.time()),
            "request_counts": {
                "total": batch.total,
                "completed": batch.total - batch.failed if done else 0,
                "failed": batch.failed if done else 0,
            },
            "metadata": batch.metadata,
        }


_GOOGLE_PATH = re.compile(r"^/v1(?:beta)?/models/([^/:]+):generateContent$")
_GOOGLE_BATCH = re.compile(r"^/v1(?:beta)?/models/([^/:]+):batchGenerateContent$")


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real servers: no new connection per request

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the default stderr access log."""

        def _headers(self) -> dict[str, str]:
            return {k.lower(): v for k, v in self.headers.items()}

        def _key_ok(self) -> bool:
            headers = self._headers()
            key = (
                headers.get("authorization", "").removeprefix("Bearer ")
                or headers.get("x-api-key", "")
                or headers.get("x-goog-api-key", "")
            )
            return server.key_ok(key)

        def _read(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                data = b""
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    data += self.rfile.read(size)
                    self.rfile.readline()
                self.rfile.readline()
            else:
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length) if length else b""
            with server._lock:
                server.raw.append(Recorded(self.command, self.path, self._headers(), data))
            return data

        def _send(
            self, status: int, body: dict[str, Any] | bytes, headers: dict[str, str] | None = None
        ) -> None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _annotate(self, protocol: Protocol, body: dict[str, Any]) -> None:
            if server._slots is None:
                self._answer(protocol, body)
                return
            with server._slots:  # a real server queues requests beyond its parallel slots
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer(protocol, body)
                finally:
                    with server._lock:
                        server.in_flight -= 1

        def _answer(self, protocol: Protocol, body: dict[str, Any]) -> None:
            started = time.perf_counter()
            request, behaviour = server._decide(protocol, self.path, self._headers(), body)
            if server.latency:  # the whole request takes `latency`, decoding it included
                time.sleep(max(0.0, server.latency - (time.perf_counter() - started)))
            if behaviour == "timeout":
                time.sleep(server.timeout_sleep)
                behaviour = "ok"
            status, payload = server.chat_result(request, behaviour)
            extra = {"retry-after": server.retry_after} if status == 429 else {}
            self._send(status, payload, extra)

        def do_POST(self) -> None:
            data = self._read()
            path = self.path.split("?", 1)[0]
            if path == "/v1/chat/completions":
                self._annotate("openai", json.loads(data))
            elif path == "/v1/responses":
                self._annotate("responses", json.loads(data))
            elif path == "/v1/messages/batches" and self._key_ok():
                body = json.loads(data)
                batch_id = server._next_id("msgbatch")
                server.cloud_batches[batch_id] = {
                    "polls": 0,
                    "ids": [r["custom_id"] for r in body["requests"]],
                    "answers": server.answer_all("anthropic", [r["params"] for r in body["requests"]]),
                }
                self._send(200, server.anthropic_batch(batch_id))
            elif (match := _GOOGLE_BATCH.match(path)) and self._key_ok():
                requests = json.loads(data)["batch"]["inputConfig"]["requests"]["requests"]
                batch_id = f"batches/{server._next_id('gb')}"
                server.cloud_batches[batch_id] = {
                    "polls": 0,
                    "model": f"models/{match.group(1)}",
                    "ids": [r.get("metadata") or {} for r in requests],
                    "answers": server.answer_all("google", [r["request"] for r in requests]),
                }
                self._send(200, server.gemini_batch(batch_id))
            elif path == "/v1/messages":
                self._annotate("anthropic", json.loads(data))
            elif _GOOGLE_PATH.match(path):
                self._annotate("google", json.loads(data))
            elif not self._key_ok():
                self._send(401, _error_body("openai", 401, "Incorrect API key provided"))
            elif path == "/v1/files":
                self._upload(data)
            elif path == "/v1/batches":
                self._create_batch(json.loads(data))
            elif path == "/api/show" and server.ollama:
                self._ollama_show(json.loads(data))
            else:
                self._send(404, {"error": {"message": f"no route {path}"}})

        def do_GET(self) -> None:
            self._read()
            path = self.path.split("?", 1)[0]
            if not self._key_ok():
                self._send(401, _error_body("openai", 401, "Incorrect API key provided"))
            elif match := re.match(r"^/v1/messages/batches/([\w-]+)(/results)?$", path):
                if match.group(1) not in server.cloud_batches:
                    self._send(404, _error_body("anthropic", 404, "no such batch"))
                elif match.group(2):
                    self._send(200, server.anthropic_results(match.group(1)))
                else:
                    server.cloud_batches[match.group(1)]["polls"] += 1
                    self._send(200, server.anthropic_batch(match.group(1)))
            elif (match := re.match(r"^/v1(?:beta)?/(batches/gb-\d+)$", path)) and match.group(
                1
            ) in server.cloud_batches:
                server.cloud_batches[match.group(1)]["polls"] += 1
                self._send(200, server.gemini_batch(match.group(1)))
            elif path in ("/v1/models", "/v1beta/models"):
                self._model_list(path)
            elif path == "/api/tags" and server.ollama:
                models = [
                    {"name": m["id"], "model": m["id"], "details": {"families": m.get("families", [])}}
                    for m in server.served_models
                ]
                self._send(200, {"models": models})
            elif path == "/props" and server.slots:
                self._send(200, {"total_slots": server.slots, "modalities": {"vision": True}})
            elif match := re.match(r"^/v1/batches/([\w-]+)$", path):
                batch = server.batches.get(match.group(1))
                if batch is None:
                    self._send(404, {"error": {"message": "no such batch"}})
                    return
                batch.polls += 1
                self._send(200, server.batch_object(batch))
            elif match := re.match(r"^/v1/files/([\w-]+)/content$", path):
                content = server.files.get(match.group(1))
                if content is None:
                    self._send(404, {"error": {"message": "no such file"}})
                else:
                    self._send(200, content)
            else:
                self._send(404, {"error": {"message": f"no route {path}"}})

        def _model_list(self, path: str) -> None:
            """OpenAI's, Anthropic's and Gemini's lists (one path; told apart by their key headers)."""
            if path == "/v1beta/models" or "x-goog-api-key" in self._headers():
                models = [
                    {
                        "name": f"models/{m['id']}",
                        "supportedGenerationMethods": m.get("actions", ["generateContent"]),
                    }
                    for m in server.served_models
                ]
                self._send(200, {"models": models})
            elif "anthropic-version" in self._headers():
                data = [
                    {
                        "type": "model",
                        "id": m["id"],
                        "display_name": m["id"],
                        "created_at": "2026-11-01T00:00:00Z",
                        **(
                            {
                                "capabilities": {
                                    "image_input": {
                                        "supported": "image" in m["architecture"]["input_modalities"]
                                    }
                                }
                            }
                            if "architecture" in m
                            else {}
                        ),
                    }
                    for m in server.served_models
                ]
                first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
                self._send(200, {"data": data, "has_more": False, "first_id": first, "last_id": last})
            else:
                data = [
                    {"object": "model", "created": 0, "owned_by": "fake", **m} for m in server.served_models
                ]
                self._send(200, {"object": "list", "data": data})

        def _ollama_show(self, body: dict[str, Any]) -> None:
            model = next((m for m in server.served_models if m["id"] == body.get("model")), None)
            if model is None:
                self._send(404, {"error": f"model '{body.get('model')}' not found"})
            elif "capabilities" in model:
                self._send(200, {"capabilities": model["capabilities"], "details": {}})
            else:
                self._send(200, {"details": {"families": model.get("families", [])}})

        def _upload(self, data: bytes) -> None:
            message = email.parser.BytesParser(policy=email.policy.default).parsebytes(
                b"content-type: " + self.headers["content-type"].encode() + b"\r\n\r\n" + data
            )
            content, filename = b"", "upload.jsonl"
            for part in message.iter_parts():
                if part.get_param("name", header="content-disposition") == "file":
                    payload = part.get_payload(decode=True)
                    content = payload if isinstance(payload, bytes) else b""
                    filename = part.get_filename() or filename
            file_id = server._next_id("file")
            server.files[file_id] = content
            self._send(
                200,
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "created_at": int(time.time()),
                    "filename": filename,
                    "purpose": "batch",
                    "status": "processed",
                },
            )

        def _create_batch(self, body: dict[str, Any]) -> None:
            output, total, failed = server.run_batch(body["input_file_id"])
            output_id = server._next_id("file")
            server.files[output_id] = output
            batch = _Batch(
                id=server._next_id("batch"),
                input_file_id=body["input_file_id"],
                endpoint=body["endpoint"],
                completion_window=body["completion_window"],
                metadata=body.get("metadata") or {},
                output_file_id=output_id,
                total=total,
                failed=failed,
            )
            server.batches[batch.id] = batch
            self._send(200, server.batch_object(batch))

    return Handler


@contextmanager
def running(
    script: Callable[[FakeRequest], Behaviour] | None = None, **options: Any
) -> Iterator[FakeLLMServer]:
    server = FakeLLMServer(**options)
    if script is not None:
        server.script = script
    with server:
        yield server
