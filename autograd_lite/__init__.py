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

# --- NumPy's functions (h4): element-wise ops, special functions, reductions and scans, and
# the NumPy dispatch (np.exp(t), np.sum(t, axis=0) … record on the tape).
from autograd_lite import special
from autograd_lite.elementwise import (
    absolute,
    amax,
    amin,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    around,
    ceil,
    clip,
    cos,
    cosh,
    deg2rad,
    divide,
    exp2,
    expm1,
    floor,
    fmax,
    fmin,
    hypot,
    log1p,
    log2,
    log10,
    logaddexp,
    logaddexp2,
    maximum,
    minimum,
    mod,
    multiply,
    nan_to_num,
    negative,
    power,
    rad2deg,
    reciprocal,
    remainder,
    rint,
    round,
    sign,
    sin,
    sinc,
    sinh,
    square,
    subtract,
    tan,
    true_divide,
    trunc,
    where,
)
from autograd_lite.numpy_dispatch import UnsupportedFunctionError
from autograd_lite.reductions import (
    average,
    cumprod,
    cumsum,
    diff,
    prod,
    std,
    trace,
    var,
)

__all__ += [
    "UnsupportedFunctionError", "absolute", "amax", "amin", "arccos", "arccosh", "arcsin",
    "arcsinh", "arctan", "arctan2", "arctanh", "around", "average", "ceil", "clip", "cos", "cosh",
    "cumprod", "cumsum", "deg2rad", "diff", "divide", "exp2", "expm1", "floor", "fmax", "fmin",
    "hypot", "log1p", "log2", "log10", "logaddexp", "logaddexp2", "maximum", "minimum", "mod",
    "multiply", "nan_to_num", "negative", "power", "prod", "rad2deg", "reciprocal", "remainder",
    "rint", "round", "sign", "sin", "sinc", "sinh", "special", "square", "std", "subtract", "tan",
    "trace", "true_divide", "trunc", "var", "where",
]

# --- shapes, products and linear algebra (h5): NumPy's names at al.<name>, al.linalg.<name>
from autograd_lite import linalg  # noqa: E402
from autograd_lite.products import (  # noqa: E402
    cross,
    dot,
    einsum,
    inner,
    kron,
    outer,
    tensordot,
    vdot,
)
from autograd_lite.shapes import (  # noqa: E402
    array_split,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    diag,
    diagonal,
    expand_dims,
    flatten,
    flip,
    fliplr,
    flipud,
    moveaxis,
    pad,
    ravel,
    repeat,
    roll,
    rot90,
    sort,
    split,
    squeeze,
    swapaxes,
    take,
    take_along_axis,
    tile,
    tril,
    triu,
)

__all__ += [
    "array_split", "atleast_1d", "atleast_2d", "atleast_3d", "cross", "diag", "diagonal", "dot",
    "einsum", "expand_dims", "flatten", "flip", "fliplr", "flipud", "inner", "kron", "linalg",
    "moveaxis", "outer", "pad", "ravel", "repeat", "roll", "rot90", "sort", "split", "squeeze",
    "swapaxes", "take", "take_along_axis", "tensordot", "tile", "tril", "triu", "vdot",
]

# ------------------------------------------------------------------ function transforms (h7)
# al.func: grad, value_and_grad, vjp, jvp, linearize, jacrev, jacfwd, hessian, hvp; checks of
# derivatives of any order.
from autograd_lite import func  # noqa: E402
from autograd_lite.higher_order import (  # noqa: E402
    DerivativeCheckError,
    check_grads,
    gradgradcheck,
)

__all__ += ["DerivativeCheckError", "check_grads", "func", "gradgradcheck"]

from autograd_lite.compile import compile  # noqa: E402

__all__ += ["compile"]
