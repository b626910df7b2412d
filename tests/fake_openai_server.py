"""A small OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It implements ``POST /v1/chat/completions`` (and ``GET /v1/models``) well enough for the
``openai`` client, and misbehaves on request. The behaviour is chosen by the *user message*:

* ``rate-limit-once ...``: the first request with this text gets 429 with ``retry-after``;
* ``error-once ...``: the first request gets 500; ``always-500 ...``: every request does;
* ``hang ...``: the reply is delayed by ``hang_s`` seconds (past a client's timeout);
* ``garbage ...``, ``refuse ...``, ``out-of-range ...``, ``empty ...``: a 200 reply whose text
  is not a valid score;
* anything else: a deterministic score in 0–100 (a hash of system prompt and message), with
  per-token log-probabilities when asked; or, with ``answers="random"``, a random integer in
  0–100 from a seeded generator (a model that carries no signal at all).

The server is configured like a real one: it serves only under ``/v1/`` (any other path is a
404), lists ``models`` and answers 404 for any other model, checks the bearer key when
``api_key`` is set (401), refuses the ``seed`` parameter with a 400 when ``accept_seed`` is
false, and reports a ``system_fingerprint``.

Every 429 and 500 carries ``retry-after: retry_after_s`` (as a server under load sends it), which
the ``openai`` client honours, so a test of retries waits 50 ms a retry, not the client's own
backoff of half a second and more.

``requests`` counts every request received (``/models`` included), so a test can check that a
rerun made none; ``completions`` counts the chat completions only.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["OpenAICompatibleTestServer", "deterministic_score"]


def deterministic_score(system: str, user: str) -> int:
    return int(hashlib.sha256(f"{system}\0{user}".encode()).hexdigest(), 16) % 101


ANSWERS = ("deterministic", "random", "empty", "garbage")
"""``empty``: every scoring reply is ``""``; ``garbage``: every one is a word, no number."""
FAULTS = ("500", "429", "truncated-json", "no-choices", "no-content", "hang-up")
"""What a faulty completion gets: HTTP 500 or 429, a 200 whose JSON body is cut short, a
completion with ``choices: []`` or with ``content: null``, or the connection closed unanswered."""


class OpenAICompatibleTestServer:
    """``with OpenAICompatibleTestServer() as server: ... server.base_url ...``"""

    def __init__(
        self,
        delay_s: float = 0.0,
        hang_s: float = 5.0,
        retry_after_s: float = 0.05,
        *,
        answers: str = "deterministic",
        models: tuple[str, ...] = ("test-model",),
        api_key: str | None = None,
        accept_seed: bool = True,
        fingerprint: str = "fp_avc_test",
        seed: int = 0,
        fault: str | None = None,
        fault_every: int = 1,
    ):
        if answers not in ANSWERS:
            raise ValueError(f"answers must be one of {ANSWERS}.")
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}.")
        self.fault, self.fault_every = fault, fault_every
        self.delay_s, self.hang_s, self.retry_after_s = delay_s, hang_s, retry_after_s
        self.answers, self.models, self.api_key = answers, tuple(models), api_key
        self.accept_seed, self.fingerprint = accept_seed, fingerprint
        self._random = random.Random(seed)
        self.requests = 0
        self.completions = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _send(self, status: int, body: dict, headers: dict | None = None):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def _refused(self) -> bool:
                """404 outside /v1/, 401 without the right key; True when the request was answered."""
                with owner._lock:
                    owner.requests += 1
                if not self.path.startswith("/v1/"):
                    self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
                    return True
                if (
                    owner.api_key is not None
                    and self.headers.get("Authorization") != f"Bearer {owner.api_key}"
                ):
                    self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return True
                return False

            def _fault(self, kind: str, request: dict):
                if kind in ("500", "429"):
                    status = int(kind)
                    return self._send(
                        status,
                        {"error": {"message": f"fault {kind}", "type": "server_error"}},
                        {"retry-after": str(owner.retry_after_s)},
                    )
                if kind == "hang-up":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return None
                message = {"role": "assistant", "content": None if kind == "no-content" else "7"}
                body = {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": request.get("model"),
                    "choices": []
                    if kind == "no-choices"
                    else [{"index": 0, "finish_reason": "stop", "message": message}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                }
                data = json.dumps(body).encode()
                if kind == "truncated-json":
                    data = data[: len(data) // 2]
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return None

            def do_GET(self):
                if self._refused():
                    return
                if self.path.rstrip("/") != "/v1/models":
                    return self._send(
                        404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
                    )
                self._send(
                    200, {"object": "list", "data": [{"id": m, "object": "model"} for m in owner.models]}
                )

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                request = json.loads(self.rfile.read(length) or b"{}")
                if self._refused():
                    return
                if self.path.rstrip("/") != "/v1/chat/completions":
                    return self._send(
                        404, {"error": {"message": f"no route {self.path}", "type": "not_found"}}
                    )
                if request.get("model") not in owner.models:
                    return self._send(
                        404,
                        {
                            "error": {
                                "message": f"The model {request.get('model')!r} does not exist",
                                "type": "invalid_request_error",
                                "code": "model_not_found",
                            }
                        },
                    )
                if "seed" in request and not owner.accept_seed:
                    return self._send(
                        400,
                        {
                            "error": {
                                "message": "Unrecognized request argument supplied: seed",
                                "type": "invalid_request_error",
                            }
                        },
                    )
                with owner._lock:
                    owner.completions += 1
                    faulty = owner.fault is not None and owner.completions % owner.fault_every == 0
                if faulty:
                    return self._fault(owner.fault, request)
                messages = request.get("messages", [])
                system = next((m["content"] for m in messages if m["role"] == "system"), "")
                user = next((m["content"] for m in messages if m["role"] == "user"), "")
                first_time = False
                with owner._lock:
                    if user not in owner._seen:
                        owner._seen.add(user)
                        first_time = True
                if owner.delay_s:
                    time.sleep(owner.delay_s)
                if user.startswith("rate-limit-once") and first_time:
                    return self._send(
                        429,
                        {"error": {"message": "slow down", "type": "rate_limit"}},
                        {"retry-after": str(owner.retry_after_s)},
                    )
                if (user.startswith("error-once") and first_time) or user.startswith("always-500"):
                    return self._send(
                        500,
                        {"error": {"message": "internal error", "type": "server_error"}},
                        {"retry-after": str(owner.retry_after_s)},
                    )
                if user.startswith("hang"):
                    time.sleep(owner.hang_s)
                if owner.answers == "random":
                    with owner._lock:
                        answer = owner._random.randint(0, 100)
                else:
                    answer = deterministic_score(system, user)
                if owner.answers in ("empty", "garbage") and "Reply with the number 1." not in user:
                    answer = {"empty": "", "garbage": "banana"}[owner.answers]
                text = {
                    "garbage": "banana",
                    "refuse": "I'm sorry, I cannot rate that.",
                    "out-of-range": "150",
                    "empty": "",
                }.get(user.split(" ")[0], str(answer))
                choice = {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": text},
                }
                if "Answer Yes or No" in system:  # a Yes/No question: P(Yes) = the deterministic score / 100
                    p_yes = min(max(deterministic_score(system, user) / 100, 0.01), 0.99)
                    text = "Yes" if p_yes >= 0.5 else "No"
                    if request.get("logprobs"):
                        alternatives = [
                            ("Yes", math.log(p_yes)),
                            ("No", math.log(1 - p_yes)),
                            (" maybe", -9.0),
                        ]
                        choice = {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                            "logprobs": {
                                "content": [
                                    {
                                        "token": text,
                                        "logprob": max(a[1] for a in alternatives),
                                        "bytes": None,
                                        "top_logprobs": [
                                            {"token": t, "logprob": lp, "bytes": None}
                                            for t, lp in alternatives
                                        ],
                                    }
                                ]
                            },
                        }
                    else:
                        choice = {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": text},
                        }
                elif request.get("logprobs") and text.isdigit():
                    value = int(text)
                    alternatives = [
                        (str(value), -0.2),
                        (str(max(value - 10, 0)), -2.0),
                        (str(min(value + 10, 100)), -2.5),
                    ]
                    choice["logprobs"] = {
                        "content": [
                            {
                                "token": text,
                                "logprob": -0.2,
                                "bytes": None,
                                "top_logprobs": [
                                    {"token": t, "logprob": lp, "bytes": None} for t, lp in alternatives
                                ],
                            }
                        ]
                    }
                try:
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-test",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": request.get("model", "test-model"),
                            "choices": [choice],
                            "system_fingerprint": owner.fingerprint,
                            "usage": {
                                "prompt_tokens": len((system + user).split()),
                                "completion_tokens": 1,
                                "total_tokens": len((system + user).split()) + 1,
                            },
                        },
                    )
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # a short poll: shutdown() waits for the next one (half a second by default, in every test)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()


def main(argv=None) -> None:
    """``python tests/fake_openai_server.py [--answers random]``: serve until killed, printing the base URL first
    (for tests that need the server in another process, e.g. to kill it mid-run)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--answers", default="deterministic", choices=["deterministic", "random"])
    parser.add_argument("--delay-s", type=float, default=0.0)
    args = parser.parse_args(argv)
    with OpenAICompatibleTestServer(delay_s=args.delay_s, answers=args.answers) as server:
        print(server.base_url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
