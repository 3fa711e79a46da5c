"""Element-wise ops with NumPy's names and signatures: trigonometric and hyperbolic functions,
exponentials and logarithms, rounding, pairwise extrema, clip, where, remainder and kin.

Each op is registered like the built-ins in :mod:`autograd_lite.ops`: its forward (NumPy's own
function), a VJP per input built from differentiable ops (so ``create_graph=True`` gives the
second order), a JVP per input (the forward-mode rule: the same derivative applied to a tangent),
what it saves and its math, "forward · derivative". A smooth unary op is written once from its
derivative f'(x) (read from the input x, the output y or both): VJP g·f'(x), JVP t·f'(x).

Kinks and ties follow JAX and HIPS autograd where they agree (checked against JAX 0.10.2 and
HIPS autograd 1.9.1): ``maximum``/``minimum`` split the gradient equally at a tie (g/2 to each);
``sign``, ``floor``, ``ceil``, ``round``, ``rint`` and ``trunc`` have zero gradient (also at
their jumps). Where they differ: ``fmax``/``fmin`` split a tie as ``maximum`` does (HIPS; JAX
gives all to y); ``clip(a, lo, hi)`` is ``minimum(maximum(a, lo), hi)`` as in JAX, so at
``a == lo`` the gradient is split g/2 between a and lo (HIPS gives a none); ``hypot`` at the
origin has gradient 0 (JAX g/2 each, HIPS NaN); ``sinc`` at 0 has its true derivatives, as
JAX (HIPS: NaN). The built-in ``abs`` has gradient 0 at 0 (HIPS; JAX gives g).

Masks (which branch, which element wins) are read from the values and are constants of the
graph, as in every autodiff engine.

Also here: NumPy's names for the built-ins (``multiply`` is ``mul``, ``amax`` is ``max`` …),
the same op objects under a second name.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from autograd_lite.errors import SignatureError
from autograd_lite.explain import Latex
from autograd_lite.ops import abs, div, exp, max, min, mul, neg, pow, sqrt, sub
from autograd_lite.registry import broadcast_failure, register_op
from autograd_lite.tensor import raw

FAMILY = "element-wise"


def _register(name: str, math_doc: str, forward: Any, vjps: tuple, jvps: tuple, *,
              saves: str, family: str = FAMILY, **options: Any) -> Any:
    return register_op(name, forward, vjps, jvp=jvps, builtin=True, doc=math_doc, saves=saves,
                       family=family, explain=broadcast_failure, **options)


def _unary(name: str, math_doc: str, forward: Any, derivative: Any, saves: str,
           family: str = FAMILY, latex: Latex | None = None) -> Any:
    """A smooth unary op from its derivative ``derivative(y, x)`` (y the output, x the input;
    the one not saved is None); ``latex``: how ``al.explain`` writes it."""
    return _register(name, math_doc, forward,
                     (lambda g, out, x: g * derivative(out, x),),
                     (lambda t, out, x: t * derivative(out, x),), saves=saves, family=family,
                     latex=latex)


def _like(mask: Any, value: Any) -> np.ndarray:
    """A boolean or numeric mask as an array of ``value``'s float dtype (float32 stays float32)."""
    dtype = np.asarray(raw(value)).dtype
    dtype = dtype if dtype.kind == "f" else np.float64
    return np.asarray(mask, dtype=dtype)


def _zero(g: Any, out: Any, x: Any, *settings: Any, **named: Any) -> Any:
    """The zero gradient of a piecewise-constant op (rounding, sign)."""
    return g * 0.0


def _zero_tangent(t: Any, out: Any, x: Any, *settings: Any, **named: Any) -> Any:
    return t * 0.0


# ----------------------------------------------------------------------------- trigonometric
sin = _unary("sin", "sin x  ·  g·cos x", np.sin, lambda y, x: cos(x), "inputs")
cos = _unary("cos", "cos x  ·  −g·sin x", np.cos, lambda y, x: -sin(x), "inputs")
tan = _unary("tan", "tan x  ·  g·(1 + tan² x)", np.tan, lambda y, x: 1.0 + y * y, "output")
arcsin = _unary("arcsin", "arcsin x  ·  g/√(1 − x²)", np.arcsin,
                lambda y, x: 1.0 / sqrt(1.0 - x * x), "inputs")
arccos = _unary("arccos", "arccos x  ·  −g/√(1 − x²)", np.arccos,
                lambda y, x: -1.0 / sqrt(1.0 - x * x), "inputs")
arctan = _unary("arctan", "arctan x  ·  g/(1 + x²)", np.arctan,
                lambda y, x: 1.0 / (1.0 + x * x), "inputs")
sinh = _unary("sinh", "sinh x  ·  g·cosh x", np.sinh, lambda y, x: cosh(x), "inputs")
cosh = _unary("cosh", "cosh x  ·  g·sinh x", np.cosh, lambda y, x: sinh(x), "inputs")
arcsinh = _unary("arcsinh", "arcsinh x  ·  g/√(x² + 1)", np.arcsinh,
                 lambda y, x: 1.0 / sqrt(x * x + 1.0), "inputs")
arccosh = _unary("arccosh", "arccosh x  ·  g/√(x² − 1)", np.arccosh,
                 lambda y, x: 1.0 / sqrt(x * x - 1.0), "inputs")
arctanh = _unary("arctanh", "arctanh x  ·  g/(1 − x²)", np.arctanh,
                 lambda y, x: 1.0 / (1.0 - x * x), "inputs")
deg2rad = _unary("deg2rad", "x·π/180  ·  g·π/180", np.deg2rad, lambda y, x: math.pi / 180, "none")
rad2deg = _unary("rad2deg", "x·180/π  ·  g·180/π", np.rad2deg, lambda y, x: 180 / math.pi, "none")


def _sinc_derivative(y: Any, x: Any) -> Any:
    """d sinc/dx = (cos πx − sinc x)/x, and its Taylor series −π²x/3 + π⁴x³/30 for |x| < 1e-3
    (no 0/0 at x = 0; the series' error there is below 1e-16, and it is differentiable again)."""
    small = np.abs(raw(x)) < 1e-3
    safe = where(small, 1.0, x)
    series = x * (-(math.pi ** 2) / 3 + (math.pi ** 4 / 30) * x * x)
    return where(small, series, (cos(math.pi * x) - y) / safe)


sinc = _unary("sinc", "sin(πx)/(πx)  ·  g·(cos πx − sinc x)/x (0 at x = 0)", np.sinc,
              _sinc_derivative, "both")

# --------------------------------------------------------------------- exponentials and logs
exp2 = _unary("exp2", "2^x  ·  g·2^x·ln 2", np.exp2, lambda y, x: y * math.log(2.0), "output")
expm1 = _unary("expm1", "e^x − 1  ·  g·e^x", np.expm1, lambda y, x: y + 1.0, "output",
               latex=Latex("\\exp($x) - 1", "$g \\circ \\exp($x)"))
log2 = _unary("log2", "log₂ x  ·  g/(x ln 2)", np.log2,
              lambda y, x: 1.0 / (x * math.log(2.0)), "inputs")
log10 = _unary("log10", "log₁₀ x  ·  g/(x ln 10)", np.log10,
               lambda y, x: 1.0 / (x * math.log(10.0)), "inputs")
log1p = _unary("log1p", "log(1 + x)  ·  g/(1 + x)", np.log1p, lambda y, x: 1.0 / (1.0 + x),
               "inputs", latex=Latex("\\log(1 + $x)", "\\frac{$g}{1 + $x}"))
square = _unary("square", "x²  ·  2g·x", np.square, lambda y, x: 2.0 * x, "inputs",
                latex=Latex("$x^2", "$g \\circ 2 $x"))
reciprocal = _unary("reciprocal", "1/x  ·  −g/x²", np.reciprocal, lambda y, x: -(y * y),
                    "output", latex=Latex("\\frac{1}{$x}", "-\\frac{$g}{$x^2}"))


def _logaddexp_share(base: Any) -> Any:
    """d/dx log(base^x + base^y) = base^(x − out): the input's share of the sum."""
    power = exp if base == "e" else exp2
    return (lambda g, out, x, y: g * power(x - out),
            lambda g, out, x, y: g * power(y - out)), (
            lambda t, out, x, y: t * power(x - out),
            lambda t, out, x, y: t * power(y - out))


logaddexp = _register("logaddexp", "log(e^x + e^y)  ·  g·e^(x − out), g·e^(y − out)", np.logaddexp,
                      *_logaddexp_share("e"), saves="both")
logaddexp2 = _register("logaddexp2", "log₂(2^x + 2^y)  ·  g·2^(x − out), g·2^(y − out)",
                       np.logaddexp2, *_logaddexp_share(2), saves="both")


# ------------------------------------------------------------------------------ rounding
def _round(a: np.ndarray, decimals: int = 0, out: Any = None) -> np.ndarray:
    """a rounded to ``decimals`` decimals (half to even, as NumPy)."""
    if out is not None:
        raise SignatureError("round: 'out=' cannot be recorded on a tape; assign the result")
    return np.round(a, decimals)


def _piecewise_constant(name: str, math_doc: str, forward: Any) -> Any:
    return _register(name, math_doc, forward, (_zero,), (_zero_tangent,), saves="none")


sign = _piecewise_constant("sign", "sign x  ·  0", np.sign)
floor = _piecewise_constant("floor", "⌊x⌋  ·  0", np.floor)
ceil = _piecewise_constant("ceil", "⌈x⌉  ·  0", np.ceil)
rint = _piecewise_constant("rint", "x rounded to an integer (half to even)  ·  0", np.rint)
trunc = _piecewise_constant("trunc", "x rounded toward 0  ·  0", np.trunc)
round = _piecewise_constant("round", "x rounded to `decimals` decimals  ·  0", _round)
around = round


# --------------------------------------------------------------------- pairwise and selection
def _first_wins(x: Any, y: Any, larger: bool = True, ignore_nan: bool = False) -> np.ndarray:
    """x's share of the gradient of max(x, y) (``larger``) or min(x, y): 1 where x wins, ½ at a
    tie, 0 where y wins; ignoring NaN (fmax, fmin), a NaN loses (both NaN: no gradient)."""
    a, b = raw(x), raw(y)
    share = (a > b if larger else a < b) + 0.5 * (a == b)
    if ignore_nan:
        share = np.where(np.isnan(b), ~np.isnan(a), share)
    return _like(share, x)


def _extremum(name: str, math_doc: str, forward: Any, larger: bool, ignore_nan: bool) -> Any:
    """maximum and kin: the winner gets g, a tie splits it equally."""
    def share(x: Any, y: Any) -> Any:
        return _first_wins(x, y, larger, ignore_nan)

    return _register(name, math_doc, forward,
                     (lambda g, out, x, y: g * share(x, y),
                      lambda g, out, x, y: g * share(y, x)),
                     (lambda t, out, x, y: t * share(x, y),
                      lambda t, out, x, y: t * share(y, x)), saves="inputs")


maximum = _extremum("maximum", "max(x, y)  ·  g to the larger (a tie: g/2 each)", np.maximum,
                    larger=True, ignore_nan=False)
minimum = _extremum("minimum", "min(x, y)  ·  g to the smaller (a tie: g/2 each)", np.minimum,
                    larger=False, ignore_nan=False)
fmax = _extremum("fmax", "max(x, y) ignoring NaN  ·  g to the larger (a tie: g/2 each)",
                 np.fmax, larger=True, ignore_nan=True)
fmin = _extremum("fmin", "min(x, y) ignoring NaN  ·  g to the smaller (a tie: g/2 each)",
                 np.fmin, larger=False, ignore_nan=True)


def _clip_shares(a: Any, a_min: Any, a_max: Any) -> tuple[Any, Any, Any]:
    """The shares of a, a_min and a_max in clip = minimum(maximum(a, a_min), a_max)."""
    lifted = raw(a) if a_min is None else np.maximum(raw(a), raw(a_min))
    a_over_min = 1.0 if a_min is None else _first_wins(a, a_min)
    below_max = 1.0 if a_max is None else _first_wins(a_max, lifted)
    return (_like(np.multiply(a_over_min, below_max), a),
            _like(np.multiply(1.0 - a_over_min, below_max), a),
            _like(1.0 - np.asarray(below_max), a))


def _clip(a: np.ndarray, a_min: Any = None, a_max: Any = None) -> np.ndarray:
    """a limited to [a_min, a_max] (either bound may be None: no limit on that side)."""
    if a_min is None and a_max is None:
        raise SignatureError("clip: give at least one of a_min and a_max")
    return np.clip(a, a_min, a_max)


clip = _register(
    "clip", "min(max(a, a_min), a_max)  ·  g to whichever is the result (kinks: g/2 each)",
    _clip,
    tuple((lambda g, out, a, lo, hi, i=i: g * _clip_shares(a, lo, hi)[i]) for i in range(3)),
    tuple((lambda t, out, a, lo, hi, i=i: t * _clip_shares(a, lo, hi)[i]) for i in range(3)),
    saves="inputs", inputs=3)


def _where(condition: Any, x: Any, y: Any) -> np.ndarray:
    """x where condition holds, else y (all three broadcast)."""
    return np.where(condition, x, y)


def _chosen(condition: Any, value: Any, take: bool) -> np.ndarray:
    mask = np.asarray(raw(condition), dtype=bool)
    return _like(mask if take else ~mask, value)


where = _register("where", "x where condition, else y  ·  x: g where condition; y: g elsewhere",
                  _where,
                  (None, lambda g, out, c, x, y: g * _chosen(c, g, True),
                   lambda g, out, c, x, y: g * _chosen(c, g, False)),
                  (None, lambda t, out, c, x, y: t * _chosen(c, t, True),
                   lambda t, out, c, x, y: t * _chosen(c, t, False)), saves="inputs")

remainder = _register("remainder", "x − y·⌊x/y⌋ (sign of y)  ·  g, −g·⌊x/y⌋", np.remainder,
                      (lambda g, out, x, y: g,
                       lambda g, out, x, y: -g * np.floor(raw(x) / raw(y))),
                      (lambda t, out, x, y: t,
                       lambda t, out, x, y: -t * np.floor(raw(x) / raw(y))), saves="inputs")
mod = remainder


def _arctan2_grads(g: Any, x1: Any, x2: Any) -> tuple[Any, Any]:
    r2 = x1 * x1 + x2 * x2
    return g * x2 / r2, -g * x1 / r2


arctan2 = _register("arctan2",
                    "arctan(x1/x2) in the quadrant of (x2, x1)  ·  g·x2/(x1² + x2²), "
                    "−g·x1/(x1² + x2²)",
                    lambda x1, x2: np.arctan2(x1, x2),
                    (lambda g, out, x1, x2: _arctan2_grads(g, x1, x2)[0],
                     lambda g, out, x1, x2: _arctan2_grads(g, x1, x2)[1]),
                    (lambda t, out, x1, x2: _arctan2_grads(t, x1, x2)[0],
                     lambda t, out, x1, x2: _arctan2_grads(t, x1, x2)[1]), saves="inputs")


def _over_hypot(g: Any, out: Any, x: Any) -> Any:
    """g·x/hypot, and 0 where hypot = 0 (both inputs 0: the kink, as abs at 0)."""
    zero = raw(out) == 0
    return where(zero, 0.0, g * x / where(zero, 1.0, out))


hypot = _register("hypot", "√(x1² + x2²)  ·  g·x1/out, g·x2/out (0 at the origin)",
                  lambda x1, x2: np.hypot(x1, x2),
                  (lambda g, out, x1, x2: _over_hypot(g, out, x1),
                   lambda g, out, x1, x2: _over_hypot(g, out, x2)),
                  (lambda t, out, x1, x2: _over_hypot(t, out, x1),
                   lambda t, out, x1, x2: _over_hypot(t, out, x2)), saves="both")


def _nan_to_num(x: np.ndarray, copy: bool = True, nan: float = 0.0, posinf: Any = None,
                neginf: Any = None) -> np.ndarray:
    """x with NaN, +∞ and −∞ replaced by finite numbers."""
    return np.nan_to_num(x, copy=True, nan=nan, posinf=posinf, neginf=neginf)


def _finite(g: Any, x: Any) -> Any:
    return g * _like(np.isfinite(raw(x)), g)


nan_to_num = _register("nan_to_num", "x with NaN/±∞ replaced  ·  g where x is finite, else 0",
                       _nan_to_num, (lambda g, out, x, **s: _finite(g, x),),
                       (lambda t, out, x, **s: _finite(t, x),), saves="inputs")


# ---------------------------------------------------------- NumPy's names for the built-ins
multiply = mul
subtract = sub
divide = true_divide = div
negative = neg
power = pow
absolute = abs
amax = max
amin = min
