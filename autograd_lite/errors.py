"""The library's exceptions and warnings.

Every class subclasses the built-in exception a Python or NumPy user would expect
(``ValueError`` for bad values and shapes, ``TypeError`` for bad types, ``RuntimeError`` for
misuse of the tape), so ordinary ``except`` clauses keep working; catch
:class:`AutogradLiteError` to catch anything this library raises on purpose.
"""

from __future__ import annotations


class AutogradLiteError(Exception):
    """Base class of every error autograd_lite raises on purpose."""


class ShapeError(AutogradLiteError, ValueError):
    """Shapes that do not fit: no broadcast, a matmul mismatch, a seed gradient of the wrong
    shape."""


class DTypeError(AutogradLiteError, TypeError):
    """Data of a kind the engine cannot hold or differentiate (strings, complex, objects,
    ``requires_grad`` on integers)."""


class InputValueError(AutogradLiteError, ValueError):
    """Values that are out of an op's domain: class labels out of range, ragged lists."""


class InputIndexError(InputValueError, IndexError):
    """An index out of bounds, or of a type that cannot index."""


class SignatureError(AutogradLiteError, TypeError):
    """A call whose arguments do not match the op's signature (an unknown keyword, a ufunc
    option such as ``out=``, too many positional arguments)."""


class GraphError(AutogradLiteError, RuntimeError):
    """Misuse of the tape: backward through a freed graph, of a tensor with no history, of a
    non-scalar without a seed gradient."""


class InplaceModificationError(GraphError):
    """A change the recorded graph cannot follow: assigning ``.data`` of a computed tensor, or
    rebinding a leaf's ``.data`` to another shape or dtype between forward and backward."""


class AnomalyError(AutogradLiteError, FloatingPointError):
    """Raised under :func:`autograd_lite.detect_anomaly` at the first NaN or Inf."""


class RegistryError(AutogradLiteError, ValueError):
    """An op name that is unknown, or already taken, or a VJP that returns the wrong number of
    gradients."""


class DerivationError(AutogradLiteError, ValueError):
    """A derivation file that cannot be loaded or a derivation that is malformed."""


class WriteupError(DerivationError):
    """A writeup that cannot be read at all (too large, unreadable)."""


class ExpressionError(AutogradLiteError, ValueError):
    """An expression given to ``autograd-lite graph`` that is outside the allowed form."""


class GraphvizNotFoundError(AutogradLiteError, RuntimeError):
    """The system Graphviz ``dot`` executable is not on PATH."""


# --------------------------------------------- integrity (no silent wrong results; issue 17)
class ArrayConversionError(GraphError):
    """``np.asarray(t)``, ``np.array(t)`` or ``t.numpy()`` on a tensor that is part of a graph
    (it requires grad or has history): the array would silently leave the graph. Read values
    with ``t.data`` or ``t.detach().numpy()``."""


class AxisError(InputIndexError):
    """An ``axis`` that is not an integer, is out of range for the array, or is repeated."""


class GradcheckWarning(UserWarning):
    """A gradient check whose result is unreliable (float32 inputs)."""


class TargetWarning(UserWarning):
    """Probability targets of a cross-entropy whose rows are not distributions."""
