"""The tape's switches: grad mode, anomaly detection, retained gradients, the name hook.

The switches in force form one immutable :class:`Mode`, held in a context variable: each thread
starts with the defaults and has its own settings (like PyTorch's grad mode), so two threads can
build and differentiate separate graphs at the same time, and an asyncio task's changes stay in
that task. Every op reads the mode once (``current_mode()``, one C call); a context manager sets
a changed copy on entry and resets the variable on exit.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from contextvars import ContextVar, Token
from typing import Any


class Mode:
    """The settings ops run under. Immutable: change them with :func:`using_mode`."""

    __slots__ = ("_flipped", "anomaly", "forward_levels", "grad_enabled", "name_hook",
                 "retain_all_grads", "watching")

    def __init__(self, grad_enabled: bool = True, anomaly: bool = False,
                 retain_all_grads: bool = False,
                 name_hook: Callable[[Any, str], None] | None = None,
                 forward_levels: tuple[int, ...] = ()) -> None:
        self.grad_enabled = grad_enabled
        self.anomaly = anomaly
        self.retain_all_grads = retain_all_grads
        # forward mode: the active levels of autograd_lite.func's forward-mode transforms,
        # outermost first; while any is active, every op also computes its output's tangents.
        self.forward_levels = forward_levels
        # anomaly, retain_all_grads or forward mode: the one flag the per-op path reads (the
        # slow modes are then one check away).
        self.watching = anomaly or retain_all_grads or bool(forward_levels)
        # Called as hook(tensor, name) whenever a tensor is named; used by the verifier to find
        # and perturb named intermediates. None almost always.
        self.name_hook = name_hook
        self._flipped: Mode | None = None  # with_grad's other mode, made on first use

    def with_grad(self, enabled: bool) -> Mode:
        """This mode with grad mode ``enabled`` (made once: every backward() asks for it)."""
        if enabled == self.grad_enabled:
            return self
        if self._flipped is None:  # (the two then point at each other)
            self._flipped = Mode(enabled, self.anomaly, self.retain_all_grads, self.name_hook,
                                 self.forward_levels)
            self._flipped._flipped = self
        return self._flipped

    def replace(self, **changes: Any) -> Mode:
        """A copy with ``changes`` applied."""
        fields = {"grad_enabled": self.grad_enabled, "anomaly": self.anomaly,
                  "retain_all_grads": self.retain_all_grads, "name_hook": self.name_hook,
                  "forward_levels": self.forward_levels}
        return Mode(**{**fields, **changes})

    def __repr__(self) -> str:
        return (f"Mode(grad_enabled={self.grad_enabled}, anomaly={self.anomaly}, "
                f"retain_all_grads={self.retain_all_grads}, name_hook={self.name_hook!r})")


_MODE: ContextVar[Mode] = ContextVar("autograd_lite_mode", default=Mode())  # noqa: B039 (immutable)
current_mode = _MODE.get  # the mode in force here, as one C call: the per-op path uses it


def enter_grad_mode(enabled: bool) -> Token[Mode]:
    """Set grad mode here; :func:`restore_mode` takes the token back. What ``set_grad_enabled``
    does on entry, for the engine, which runs once per ``backward()`` and skips the context
    manager's object and method calls (about 0.45 µs)."""
    return _MODE.set(current_mode().with_grad(enabled))


def restore_mode(token: Token[Mode]) -> None:
    """Undo the ``set`` that gave ``token``. A block left in another context than the one it
    was entered in (a generator resumed elsewhere) cannot reset there, so the mode from before
    the block is set there instead."""
    try:
        _MODE.reset(token)
    except ValueError:
        _MODE.set(Mode() if token.old_value is Token.MISSING else token.old_value)


@contextlib.contextmanager
def using_mode(**changes: Any) -> Iterator[Mode]:
    """Run the block with the current mode's ``changes`` applied, then restore the mode.

    Restoring resets the variable rather than setting the old value again, so outside every
    block it is unset and the context stays empty: NumPy reads its own context variable on
    every ufunc call, and that read is quickest in an empty context.
    """
    token = _MODE.set(current_mode().replace(**changes))
    try:
        yield current_mode()
    finally:
        restore_mode(token)


def is_grad_enabled() -> bool:
    """Whether ops called here (this thread or task) record themselves on the tape."""
    return current_mode().grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode for this thread, then restores it."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._tokens: list[Token[Mode]] = []

    def _recreate_cm(self) -> set_grad_enabled:
        # ContextDecorator reuses one instance for every call of a decorated function; a fresh
        # one per call keeps the saved modes apart when threads call it at the same time.
        fresh = copy.copy(self)
        fresh._tokens = []
        return fresh

    def __enter__(self) -> None:
        self._tokens.append(enter_grad_mode(self.mode))

    def __exit__(self, *exc: object) -> None:
        restore_mode(self._tokens.pop())


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
    with using_mode(anomaly=True):
        yield


@contextlib.contextmanager
def retain_grads() -> Iterator[None]:
    """Every tensor built inside keeps its gradient after ``backward()`` (as if
    ``retain_grad()`` were called on each), so graphs can show every intermediate gradient."""
    with using_mode(retain_all_grads=True):
        yield


@contextlib.contextmanager
def name_hook(hook: Callable[[Any, str], None]) -> Iterator[None]:
    """Call ``hook(tensor, name)`` whenever a tensor is named here (verifier use)."""
    with using_mode(name_hook=hook):
        yield
