"""Checks of derivatives of any order: :func:`gradgradcheck` and :func:`check_grads`.

``gradgradcheck`` is PyTorch's second-order check: it runs :func:`checking.gradcheck` on the
scalar ``h(x) = Σᵢ ⟨vᵢ, ∂⟨u, f(x)⟩/∂xᵢ⟩`` (fixed random u, v), whose tape gradient is the
``create_graph`` gradient differentiated again (H v) and whose finite differences are taken of
the first-order gradient. A VJP that is right but not differentiable (computed on raw arrays, so
it records nothing) gives a wrong H v and fails.

``check_grads`` is JAX's: forward mode (``jvp``) and reverse mode (``vjp``) against central
differences, and for ``order > 1`` the same checks, recursively, of the functions
``x ↦ J(x) v`` (fixed random v) and ``x ↦ uᵀ J(x)`` (fixed random u): so order 2 checks
forward-over-forward, reverse-over-forward, forward-over-reverse and reverse-over-reverse, and
catches a wrong JVP rule, a wrong VJP and a derivative rule that is right but not
differentiable.

Step and tolerances (``check_grads``), for unit round-off u of the arguments' dtype: the step
along a direction d is h = u^(1/3)·max(1, ‖x‖∞) / ‖d‖∞, which balances the O(h²) truncation
error of central differences against their O(u·|f|/h) rounding error, leaving an error of order
u^(2/3) times the scale of f. A derivative passes when
|AD − FD| ≤ tol·(max(1, max|f|) + |FD|) element-wise with tol = 100·u^(2/3) (3.7e-9 for
float64, 2.4e-3 for float32), unless ``atol``/``rtol`` are given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from autograd_lite import checking, func, ops
from autograd_lite.errors import AutogradLiteError, InputValueError
from autograd_lite.func import _basis, _flatten, _unflatten
from autograd_lite.modes import no_grad
from autograd_lite.tensor import Tensor, to_array

__all__ = ["DerivativeCheckError", "check_grads", "gradgradcheck"]


class DerivativeCheckError(AutogradLiteError, AssertionError):
    """A derivative computed by the library disagrees with finite differences."""


# --------------------------------------------------------------------------- gradgradcheck
def gradgradcheck(f: Callable[..., Any], *inputs: Any, seed: int = 0,
                  **gradcheck_options: Any) -> checking.GradcheckReport:
    """Check the second derivatives of ``f`` (Tensors in, a Tensor out) at ``inputs``: the
    tape's gradient of the ``create_graph`` gradient against finite differences of the
    first-order gradient, with :func:`checking.gradcheck` (its options and tolerances apply:
    ``fast_mode``, ``raise_exception``, ...). Returns gradcheck's report of ``h`` (see the
    module docstring)."""
    arrays = [to_array(x, f"gradgradcheck input {i}") for i, x in enumerate(inputs)]
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    if not floats:
        raise InputValueError("gradgradcheck: no floating-point input to check")
    rng = np.random.default_rng(seed)
    with no_grad():
        out = f(*[Tensor(a) for a in arrays])
    u = rng.standard_normal(np.shape(out.data if isinstance(out, Tensor) else out))
    v = {i: rng.standard_normal(arrays[i].shape) for i in floats}

    def pairing(*xs: Any) -> Any:  # ⟨u, f(x)⟩
        out = f(*xs)
        return ops.sum(out * u.astype(out.dtype)) if isinstance(out, Tensor) else np.sum(out * u)

    def second(*xs: Any) -> Any:  # h(x) = Σᵢ ⟨vᵢ, ∂⟨u, f⟩/∂xᵢ⟩
        grads = func.grad(pairing, argnums=tuple(floats))(*xs)
        total: Any = 0.0
        for i, g in zip(floats, grads):
            total = total + ops.sum(g * v[i].astype(g.dtype))
        for x in xs:  # keep h on the tape when f is linear (its second derivative is zero)
            if isinstance(x, Tensor) and x.requires_grad:
                total = total + 0.0 * ops.sum(x)
        return total

    second.__signature__ = _signature_of(f)  # type: ignore[attr-defined]
    return checking.gradcheck(second, *inputs, **gradcheck_options)


def _signature_of(f: Callable[..., Any]) -> Any:
    """f's signature (gradcheck names inputs by it), or None when it has none."""
    import inspect

    try:
        return inspect.signature(f)
    except (TypeError, ValueError):
        return None


# ------------------------------------------------------------------------------ check_grads
def check_grads(f: Callable[..., Any], args: Sequence[Any], order: int = 2,
                modes: Sequence[str] = ("fwd", "rev"), fast: bool = False,
                atol: float | None = None, rtol: float | None = None, eps: float | None = None,
                seed: int = 0) -> None:
    """Check the derivatives of ``f`` at ``args`` up to ``order`` in forward mode ("fwd":
    ``func.jvp``) and reverse mode ("rev": ``func.vjp``) against central differences, as JAX's
    ``check_grads``; raise :class:`DerivativeCheckError` naming the first disagreement.

    ``fast=False`` checks every argument element (a JVP along each basis vector; the VJP of a
    random cotangent, element by element); ``fast=True`` one random direction per check (the
    JVP along it; ⟨VJP(u), v⟩ against ⟨u, FD(v)⟩). ``args`` is a tuple of arrays, numbers or
    containers of them; ``f`` may return a container. Tolerances: see the module docstring."""
    if not isinstance(args, (tuple, list)):
        raise InputValueError("check_grads(f, args, ...): args must be a tuple of arguments, "
                              "e.g. check_grads(f, (x,))")
    if not set(modes) <= {"fwd", "rev"} or not modes:
        raise InputValueError(f"check_grads: modes must be a non-empty subset of ('fwd', "
                              f"'rev'), got {modes!r}")
    if not isinstance(order, int) or order < 1:
        raise InputValueError(f"check_grads: order must be a positive int, got {order!r}")
    leaves, structure = _flatten(tuple(args))
    arrays = [to_array(x, f"check_grads: argument leaf {i}") for i, x in enumerate(leaves)]
    if not arrays or any(a.dtype.kind != "f" for a in arrays):
        raise InputValueError("check_grads: every argument must be floating-point (pass "
                              "labels and other constants through a closure)")

    def on_leaves(*xs: Any) -> Any:
        return f(*_unflatten(structure, xs))

    dtype = max((a.dtype for a in arrays), key=lambda d: np.finfo(d).eps)
    u = float(np.finfo(dtype).eps)
    settings = {"eps": u ** (1 / 3) if eps is None else eps,
                "atol": 100 * u ** (2 / 3) if atol is None else atol,
                "rtol": 100 * u ** (2 / 3) if rtol is None else rtol}
    _check(on_leaves, arrays, order, tuple(modes), fast, settings,
           np.random.default_rng(seed), "f")


def _check(f: Callable[..., Any], arrays: list[np.ndarray], order: int, modes: tuple[str, ...],
           fast: bool, settings: dict[str, float], rng: np.random.Generator, what: str) -> None:
    if "fwd" in modes:
        _check_jvp(f, arrays, fast, settings, rng, what)
    if "rev" in modes:
        _check_vjp(f, arrays, fast, settings, rng, what)
    if order > 1:
        if "fwd" in modes:
            v = [rng.standard_normal(a.shape).astype(a.dtype) for a in arrays]
            _check(lambda *xs: func.jvp(f, xs, tuple(v))[1], arrays, order - 1, modes, fast,
                   settings, rng, f"the JVP of {what} (x ↦ J(x)·v)")
        if "rev" in modes:
            out_leaves = _evaluate(f, arrays)
            cotangent = [rng.standard_normal(o.shape).astype(o.dtype) for o in out_leaves]
            pull = _rebuild(f, arrays, cotangent)
            _check(pull, arrays, order - 1, modes, fast, settings, rng,
                   f"the VJP of {what} (x ↦ uᵀJ(x))")


def _rebuild(f: Callable[..., Any], arrays: list[np.ndarray], cotangent: list[np.ndarray]
             ) -> Callable[..., Any]:
    """x ↦ uᵀ J(x), as a function of the argument leaves."""
    def pull(*xs: Any) -> Any:
        out, fn = func.vjp(f, *xs)
        _, structure = _flatten(out)
        return fn(_unflatten(structure, cotangent))
    return pull


def _evaluate(f: Callable[..., Any], arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """f's output leaves as float64 arrays (no tape)."""
    with no_grad():
        leaves, _ = _flatten(f(*[Tensor(np.array(a)) for a in arrays]))
    return [np.asarray(x.data if isinstance(x, Tensor) else x) for x in leaves]


def _difference(f: Callable[..., Any], arrays: list[np.ndarray], direction: list[np.ndarray],
                eps: float) -> tuple[list[np.ndarray], float]:
    """Central differences of f along ``direction`` (one array per argument), with the step
    scaled to the arguments; also the largest |f| seen (the rounding error's scale)."""
    size = max(float(np.max(np.abs(a), initial=0.0)) for a in arrays)
    reach = max(float(np.max(np.abs(d), initial=0.0)) for d in direction) or 1.0
    h = eps * max(1.0, size) / reach
    up = _evaluate(f, [a + h * d for a, d in zip(arrays, direction)])
    down = _evaluate(f, [a - h * d for a, d in zip(arrays, direction)])
    scale = max([1.0, *(float(np.max(np.abs(x), initial=0.0)) for x in up + down)])
    return [(np.asarray(p, np.float64) - np.asarray(m, np.float64)) / (2 * h)
            for p, m in zip(up, down)], scale


def _compare(ad: np.ndarray, fd: np.ndarray, scale: float, settings: dict[str, float],
             what: str) -> None:
    ad = np.asarray(ad, np.float64)
    if ad.shape != fd.shape:
        raise DerivativeCheckError(f"{what}: shape {ad.shape}, finite differences {fd.shape}")
    allowed = settings["atol"] * scale + settings["rtol"] * np.abs(fd)
    bad = ~(np.abs(ad - fd) <= allowed)
    if bad.any():
        where = tuple(int(i) for i in np.argwhere(bad)[0])
        raise DerivativeCheckError(
            f"{what}: {int(bad.sum())} of {bad.size} element(s) disagree with central "
            f"differences; at {where}: computed {float(ad[where])!r}, finite differences "
            f"{float(fd[where])!r} (allowed difference {allowed[where]:.3g}, step "
            f"{settings['eps']:.3g}).")


def _check_jvp(f: Callable[..., Any], arrays: list[np.ndarray], fast: bool,
               settings: dict[str, float], rng: np.random.Generator, what: str) -> None:
    directions: list[tuple[list[np.ndarray], str]] = []
    if fast:
        directions.append(([rng.standard_normal(a.shape).astype(a.dtype) for a in arrays],
                           "a random direction"))
    else:
        for i, a in enumerate(arrays):
            for j in range(a.size):
                e = [_basis(b.shape, b.dtype, j) if k == i else np.zeros_like(b)
                     for k, b in enumerate(arrays)]
                where = tuple(int(k) for k in np.unravel_index(j, a.shape))
                directions.append((e, f"argument leaf {i}, element {where}"))
    for direction, label in directions:
        _, tangent = func.jvp(f, tuple(arrays), tuple(direction))
        tangents, _ = _flatten(tangent)
        numeric, scale = _difference(f, arrays, direction, settings["eps"])
        for k, (t, n) in enumerate(zip(tangents, numeric)):
            _compare(t, n, scale, settings,
                     f"forward mode (jvp) of {what}, output leaf {k}, along {label}")


def _check_vjp(f: Callable[..., Any], arrays: list[np.ndarray], fast: bool,
               settings: dict[str, float], rng: np.random.Generator, what: str) -> None:
    out, pull = func.vjp(f, *arrays)
    out_leaves, structure = _flatten(out)
    u = [rng.standard_normal(np.shape(o)) for o in out_leaves]
    grads = pull(_unflatten(structure, [c.astype(np.asarray(o).dtype)
                                        for c, o in zip(u, out_leaves)]))

    def paired(numeric: list[np.ndarray]) -> float:
        return float(sum(np.sum(c * n) for c, n in zip(u, numeric)))

    if fast:
        v = [rng.standard_normal(a.shape) for a in arrays]
        numeric, scale = _difference(f, arrays, [d.astype(a.dtype) for d, a in zip(v, arrays)],
                                     settings["eps"])
        ad = sum(float(np.sum(np.asarray(g, np.float64) * d)) for g, d in zip(grads, v))
        norm = float(sum(np.sum(np.abs(c)) for c in u))
        _compare(np.array(ad), np.array(paired(numeric)), scale * max(1.0, norm), settings,
                 f"reverse mode (vjp) of {what}, ⟨uᵀJ, v⟩ along a random direction")
        return
    for i, a in enumerate(arrays):
        fd, scale = np.zeros(a.shape), 1.0
        for j in range(a.size):
            e = [_basis(b.shape, b.dtype, j) if k == i else np.zeros_like(b)
                 for k, b in enumerate(arrays)]
            numeric, seen = _difference(f, arrays, e, settings["eps"])
            fd.reshape(-1)[j], scale = paired(numeric), max(scale, seen)
        norm = float(sum(np.sum(np.abs(c)) for c in u))
        _compare(grads[i], fd, scale * max(1.0, norm), settings,
                 f"reverse mode (vjp) of {what}, argument leaf {i}")
