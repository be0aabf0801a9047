"""One ONNX Runtime session per model file, reused across calls and released least-recently-used.

Building a session (graph optimisation, weight loading) costs from hundreds of milliseconds to
seconds; taggers that rebuild it per call spend more time there than in inference. Sessions are
kept until the estimated memory of the cached ones would exceed the budget, then the oldest goes.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import onnxruntime as ort
from loguru import logger

from image_annotator_lib.exceptions import ModelLoadError

Device = Literal["auto", "cpu", "cuda", "directml", "coreml"]

_PROVIDERS: dict[str, str] = {
    "cuda": "CUDAExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "cpu": "CPUExecutionProvider",
}
# CoreML only when asked for: it is reported 6-8x slower than the CPU provider on ViT graphs.
_AUTO_ORDER = ("cuda", "directml", "cpu")
# Sessions hold roughly the weights plus optimiser copies and arenas; a conservative multiplier.
_MEMORY_FACTOR = 2


def execution_providers(device: str) -> list[str]:
    """Providers to request: the forced one (error if missing) or, for `auto`, CUDA, then
    DirectML, then CPU among those this ONNX Runtime build offers."""
    available = set(ort.get_available_providers())
    if device == "auto":
        chosen = [_PROVIDERS[name] for name in _AUTO_ORDER if _PROVIDERS[name] in available]
        return chosen or ["CPUExecutionProvider"]
    if device not in _PROVIDERS:
        raise ModelLoadError(f"unknown device {device!r}; use auto, cpu, cuda, directml or coreml")
    provider = _PROVIDERS[device]
    if provider not in available:
        raise ModelLoadError(
            f"device {device!r} requested but ONNX Runtime here only offers {sorted(available)}"
        )
    return [provider] if device == "cpu" else [provider, "CPUExecutionProvider"]


def available_memory_bytes() -> int:
    """Free physical memory where the OS reports it, else a 4 GiB guess."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return 4 << 30


@dataclass
class _Entry:
    session: ort.InferenceSession
    estimated_bytes: int


class SessionCache:
    """Thread-safe LRU of inference sessions keyed by (model file, device, intra-op threads)."""

    def __init__(self, memory_budget_bytes: int | None = None, max_sessions: int = 8) -> None:
        self.memory_budget_bytes = memory_budget_bytes
        self.max_sessions = max_sessions
        self._entries: OrderedDict[tuple[Path, str, int], _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: tuple[Path, str]) -> bool:
        """Whether a session of this (model file, device) is cached, with any thread count."""
        resolved = key[0].resolve()
        return any(k[:2] == (resolved, key[1]) for k in self._entries)

    def get(self, model_file: Path, device: str = "auto", threads: int = 0) -> ort.InferenceSession:
        key = (model_file.resolve(), device, threads)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                return entry.session
            estimated = model_file.stat().st_size * _MEMORY_FACTOR
            self._evict_for(estimated)
            session = build_session(model_file, device, threads)
            self._entries[key] = _Entry(session, estimated)
            return session

    def _evict_for(self, needed: int) -> None:
        budget = self.memory_budget_bytes
        if budget is None:
            budget = available_memory_bytes() + sum(e.estimated_bytes for e in self._entries.values())
        while self._entries and (
            len(self._entries) >= self.max_sessions
            or sum(e.estimated_bytes for e in self._entries.values()) + needed > budget
        ):
            (path, device, _threads), _ = self._entries.popitem(last=False)
            logger.info(f"released ONNX session {path.name} ({device}) to make room")

    def release(self, model_file: Path) -> None:
        resolved = model_file.resolve()
        with self._lock:
            for key in [k for k in self._entries if k[0] == resolved]:
                del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def build_session(model_file: Path, device: str = "auto", threads: int = 0) -> ort.InferenceSession:
    """A fresh session with full graph optimisation; `threads` intra-op threads, 0 = ORT's
    default of one per physical core. Several processes sharing a machine (workers) each want
    their share of the cores, not all of them."""
    if threads < 0:
        raise ModelLoadError(f"threads must be 0 (all cores) or more, got {threads}")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    # Spinning worker threads would take the cores the app's decode/prefetch threads need.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = execution_providers(device)
    start = time.perf_counter()
    try:
        session = ort.InferenceSession(str(model_file), sess_options=options, providers=providers)
    except Exception as exc:  # ORT raises its own untyped errors for bad graphs and files
        raise ModelLoadError(f"cannot load ONNX model {model_file}: {exc}") from exc
    logger.info(
        f"built ONNX session {model_file.name} on {session_provider(session)} "
        f"in {time.perf_counter() - start:.2f}s"
    )
    return session


default_session_cache = SessionCache()


def session_provider(session: ort.InferenceSession) -> str:
    """The execution provider that actually runs the graph (ORT may have dropped a requested one)."""
    return str(session.get_providers()[0])
