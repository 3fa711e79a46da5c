"""autograd_lite: reverse-mode automatic differentiation on NumPy, built to check gradients.

Build expressions on :class:`Tensor`, call ``backward()``, and compare the tape's gradients with
finite differences (:func:`gradcheck`) or with your own derivations (:mod:`autograd_lite.verify`).
"""

from autograd_lite.checking import GradcheckReport, gradcheck, numerical_grad
from autograd_lite.engine import grad
from autograd_lite.errors import (
    AnomalyError,
    AutogradLiteError,
    DerivationError,
    DTypeError,
    ExpressionError,
    GradcheckWarning,
    GraphError,
    GraphvizNotFoundError,
    InplaceModificationError,
    InputIndexError,
    InputValueError,
    RegistryError,
    ShapeError,
    TargetWarning,
)
from autograd_lite.modes import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    no_grad,
    retain_grads,
    set_grad_enabled,
)
from autograd_lite.ops import (
    abs,
    add,
    astype,
    broadcast_to,
    concatenate,
    div,
    exp,
    getitem,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    mean,
    min,
    mul,
    neg,
    pow,
    relu,
    reshape,
    scatter_add,
    sigmoid,
    softmax,
    softmax_cross_entropy,
    sqrt,
    stack,
    sub,
    sum,
    tanh,
    transpose,
)
from autograd_lite.registry import Op, get_op, list_ops, op_families, register_op
from autograd_lite.tensor import Tensor

__version__ = "0.1.0"

__all__ = [
    "AnomalyError", "AutogradLiteError", "DTypeError", "DerivationError", "ExpressionError",
    "GradcheckReport", "GradcheckWarning", "GraphError", "GraphvizNotFoundError",
    "InplaceModificationError", "InputIndexError", "InputValueError", "Op", "RegistryError",
    "ShapeError", "TargetWarning", "Tensor", "abs", "add", "astype", "broadcast_to",
    "concatenate", "detect_anomaly", "div", "enable_grad", "exp", "get_op", "getitem", "grad",
    "gradcheck", "is_grad_enabled", "list_ops", "log", "log_softmax", "logsumexp", "matmul",
    "max", "mean", "min", "mul", "neg", "no_grad", "numerical_grad", "op_families", "pow",
    "register_op", "relu", "reshape", "retain_grads", "scatter_add", "set_grad_enabled",
    "sigmoid", "softmax", "softmax_cross_entropy", "sqrt", "stack", "sub", "sum", "tanh",
    "transpose",
]

# ------------------------------------------------------------------ function transforms (h7)
# al.func: grad, value_and_grad, vjp, jvp, linearize, jacrev, jacfwd, hessian, hvp; checks of
# derivatives of any order.
from autograd_lite import func
from autograd_lite.higher_order import (
    DerivativeCheckError,
    check_grads,
    gradgradcheck,
)

__all__ += ["DerivativeCheckError", "check_grads", "func", "gradgradcheck"]
