"""``al.special``: special functions with SciPy's names (``scipy.special``), as ops.

Forwards are SciPy's; each VJP and JVP is the derivative written with differentiable ops, so the
second order works: erf' = 2/√π·e^(−x²), erfinv' = √π/2·e^(erfinv(x)²), gammaln' = digamma,
digamma' = polygamma(1, ·), and polygamma(n, ·)' = polygamma(n + 1, ·), so every order of
these is available. ``expit`` is the built-in ``sigmoid`` (the same op). SciPy's special-function
ufuncs dispatch here too: ``scipy.special.erf(t)`` on a Tensor records ``al.special.erf``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from autograd_lite import elementwise
from autograd_lite.errors import InputValueError
from autograd_lite.explain import Latex
from autograd_lite.ops import exp, sigmoid
from autograd_lite.registry import register_op

FAMILY = "special functions"
_SCIPY: list[Any] = []  # scipy.special, imported at the first call (it takes ~0.3 s to import)


def _scipy(name: str) -> Any:
    """A forward that calls ``scipy.special.<name>``, importing SciPy on its first call."""
    def forward(x: Any) -> Any:
        if not _SCIPY:
            import scipy.special
            _SCIPY.append(scipy.special)
        return getattr(_SCIPY[0], name)(x)

    forward.__name__ = name
    return forward


# a smooth unary op from its derivative, as the element-wise ones are made, in this family
_unary = functools.partial(elementwise._unary, family=FAMILY)


_TWO_OVER_ROOT_PI = 2.0 / math.sqrt(math.pi)

erf = _unary("erf", "erf x  ·  g·2/√π·e^(−x²)", _scipy("erf"),
             lambda y, x: _TWO_OVER_ROOT_PI * exp(-(x * x)), "inputs")
erfc = _unary("erfc", "1 − erf x  ·  −g·2/√π·e^(−x²)", _scipy("erfc"),
              lambda y, x: -_TWO_OVER_ROOT_PI * exp(-(x * x)), "inputs")
erfinv = _unary("erfinv", "erf⁻¹ x on (−1, 1)  ·  g·√π/2·e^(erfinv(x)²)", _scipy("erfinv"),
                lambda y, x: (math.sqrt(math.pi) / 2) * exp(y * y), "output")


def _polygamma(n: Any, x: np.ndarray) -> np.ndarray:
    """ψ⁽ⁿ⁾(x), the n-th derivative of digamma (n a non-negative integer, not differentiated)."""
    order = np.asarray(n)
    if order.dtype.kind not in "iu" and not np.all(order == np.floor(order)):
        raise InputValueError(f"polygamma: the order n must be a non-negative integer, got {n!r}")
    if np.any(order < 0):
        raise InputValueError(f"polygamma: the order n must be non-negative, got {n!r}")
    if not _SCIPY:
        _scipy("polygamma")(1.0)  # (imports SciPy)
    result = _SCIPY[0].polygamma(order, x)
    return result.astype(np.result_type(x, np.float32)) if np.ndim(result) else result


polygamma = register_op(
    "polygamma", _polygamma,
    (None, lambda g, out, n, x: g * polygamma(np.asarray(n) + 1, x)),
    jvp=(None, lambda t, out, n, x: t * polygamma(np.asarray(n) + 1, x)), builtin=True,
    doc="ψ⁽ⁿ⁾(x)  ·  g·ψ⁽ⁿ⁺¹⁾(x) (n not differentiated)", saves="inputs", family=FAMILY)
digamma = psi = _unary("digamma", "ψ(x) = Γ'(x)/Γ(x)  ·  g·ψ⁽¹⁾(x)", _scipy("digamma"),
                       lambda y, x: polygamma(1, x), "inputs")
gammaln = _unary("gammaln", "log |Γ(x)|  ·  g·ψ(x)", _scipy("gammaln"),
                 lambda y, x: digamma(x), "inputs")

expit = sigmoid
logit = _unary("logit", "log(x/(1 − x)) on (0, 1)  ·  g/(x(1 − x))", _scipy("logit"),
               lambda y, x: 1.0 / (x * (1.0 - x)), "inputs")
# (not protected as a built-in: the README's first example of a user op registers "softplus")
softplus = register_op("softplus", lambda x: np.logaddexp(0.0, x),
                       (lambda g, out, x: g * sigmoid(x),),
                       jvp=(lambda t, out, x: t * sigmoid(x),), doc="log(1 + e^x)  ·  g·σ(x)",
                       saves="inputs", family=FAMILY,
                       latex=Latex("\\log(1 + \\exp($x))", "$g \\circ \\sigma($x)"))


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """log σ(x) = −log(1 + e^(−x)), without overflow in either tail."""
    return -np.logaddexp(0.0, -np.asarray(x))


log_sigmoid = log_expit = _unary("log_sigmoid", "log σ(x)  ·  g·σ(−x) = g·(1 − σ(x))", _log_sigmoid,
                                 lambda y, x: sigmoid(-x), "inputs",
                                 latex=Latex("\\log(\\sigma($x))",
                                             "$g \\circ (1 - \\sigma($x))"))

__all__ = ["digamma", "erf", "erfc", "erfinv", "expit", "gammaln", "log_expit", "log_sigmoid",
           "logit", "polygamma", "psi", "softplus"]
