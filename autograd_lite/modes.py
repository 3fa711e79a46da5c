"""Per-thread switches of the tape: grad mode, anomaly detection, retained gradients, name hooks.

Each thread has its own settings (like PyTorch's grad mode), so two threads can build and
differentiate separate graphs at the same time.
"""

from __future__ import annotations

import contextlib
import copy
import threading
from collections.abc import Callable, Iterator
from typing import Any


class _ThreadState(threading.local):
    def __init__(self) -> None:
        self.grad_enabled: bool = True
        self.anomaly: bool = False
        self.retain_all_grads: bool = False
        # anomaly or retain_all_grads: the one flag the per-op path reads (the slow, debugging
        # modes are then one check away).
        self.watching: bool = False
        # Called as hook(tensor, name) whenever a tensor is named; used by the verifier to find
        # and perturb named intermediates. None almost always.
        self.name_hook: Callable[[Any, str], None] | None = None

    def set_watch(self, anomaly: bool, retain_all_grads: bool) -> None:
        self.anomaly, self.retain_all_grads = anomaly, retain_all_grads
        self.watching = anomaly or retain_all_grads


state = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether ops called in this thread record themselves on the tape."""
    return state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode for this thread, then restores it."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._saved: list[bool] = []

    def _recreate_cm(self) -> set_grad_enabled:
        # ContextDecorator reuses one instance for every call of a decorated function; a fresh
        # one per call keeps the saved modes apart when threads call it at the same time.
        fresh = copy.copy(self)
        fresh._saved = []
        return fresh

    def __enter__(self) -> None:
        self._saved.append(state.grad_enabled)
        state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._saved.pop()


class no_grad(set_grad_enabled):
    """Build no graph inside: results are constants. A context manager and a decorator."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Record on the tape again inside a :class:`no_grad` block."""

    def __init__(self) -> None:
        super().__init__(True)


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise :class:`~autograd_lite.errors.AnomalyError` at the first op whose forward or
    backward produces NaN or Inf, naming the op and the line of user code that created it.

    Slow (every op checks its values and records where it was called): a debugging tool.
    """
    saved = state.anomaly
    state.set_watch(True, state.retain_all_grads)
    try:
        yield
    finally:
        state.set_watch(saved, state.retain_all_grads)


@contextlib.contextmanager
def retain_grads() -> Iterator[None]:
    """Every tensor built inside keeps its gradient after ``backward()`` (as if
    ``retain_grad()`` were called on each), so graphs can show every intermediate gradient."""
    saved = state.retain_all_grads
    state.set_watch(state.anomaly, True)
    try:
        yield
    finally:
        state.set_watch(state.anomaly, saved)


@contextlib.contextmanager
def name_hook(hook: Callable[[Any, str], None]) -> Iterator[None]:
    """Call ``hook(tensor, name)`` whenever a tensor is named in this thread (verifier use)."""
    saved = state.name_hook
    state.name_hook = hook
    try:
        yield
    finally:
        state.name_hook = saved
