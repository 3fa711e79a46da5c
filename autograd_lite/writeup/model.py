"""The model a writeup defines: shapes, random inputs, values, derivatives.

* **Shapes.** Declared symbols have their declared shapes; every other input gets a shape of
  unknown sizes (a lower-case or Greek lower-case symbol a row vector ``1 × n`` in the
  row-vector convention, ``n × 1`` in the column convention; an upper-case symbol a matrix), and
  the sizes are unified over every definition and claim: the two sides of a matrix product share
  their inner size, the terms of a sum (and the factors of an element-wise product) share their
  shape up to a broadcast row or column of size 1. Sizes left undetermined, and symbolic sizes
  (``D_x``) without a value, get small distinct values (3, 4, 5, …), so that a transposed
  product cannot pass by accident.
* **Values.** Every input is drawn from a seeded generator: a standard normal array, except the
  first argument of ``CE``, which is a one-hot row (column) per example.
* **Structural sharing.** A defined symbol is its definition: expressions are keyed by their
  tree with every defined symbol expanded, and equal keys are one node of the tape. So
  ``f_2 = xW_1 + b_1`` names the inside of ``h = σ(xW_1 + b_1)``, and ``∂J/∂f_2`` is the
  gradient at that node.
* **Derivatives.** ``∂J/∂v`` is computed by the tape (backward from ``J``, reading the gradient
  at ``v``'s node) and by finite differences (``v``'s node replaced by ``v ± h e_j``), with the
  verifier's estimator (:func:`autograd_lite.checking.estimate_derivative`: a step sweep with
  Richardson extrapolation, each element with its estimated error, one-sided slopes for kinks).
  A derivative of a non-scalar is accepted when it is element-wise in ``v`` (``d/dz σ(z)``,
  which is checked) or the Jacobian of a vector by a vector (numerator layout).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import autograd_lite as al
from autograd_lite.checking import NumericDerivative, estimate_derivative, taylor_order
from autograd_lite.errors import AutogradLiteError
from autograd_lite.modes import no_grad, retain_grads
from autograd_lite.tensor import Tensor
from autograd_lite.writeup.syntax import (
    Binary,
    Call,
    Deriv,
    Index,
    Kronecker,
    Node,
    NotUnderstood,
    Num,
    Ones,
    Reduce,
    Sym,
    Unary,
    free_indices,
    walk,
)

MAX_SIZE = 64
MAX_ELEMENTS = 4_096
MAX_STEPS = 100_000  # expression nodes evaluated to check one link, over all draws
MAX_TOTAL_STEPS = 400_000  # and to check a whole writeup
SIZE_POOL = (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)


class ShapeFailure(Exception):
    """Two shapes that cannot combine, with the likely intent."""

    def __init__(self, message: str, node: Node | None = None,
                 alternatives: tuple[tuple[str, Node], ...] = (),
                 convention: str = "row") -> None:
        super().__init__(message)
        self.node = node
        self.alternatives = alternatives
        self.convention = convention


# ------------------------------------------------------------------------------------ sizes
class Dim:
    """A size: known (``value``) or to be inferred; unified by union-find."""

    def __init__(self, value: int | None = None, label: str | None = None) -> None:
        self.parent: Dim | None = None
        self.value = value
        self.label = label

    def root(self) -> Dim:
        node = self
        while node.parent is not None:
            node = node.parent
        return node


def unify(a: Dim, b: Dim) -> bool:
    ra, rb = a.root(), b.root()
    if ra is rb:
        return True
    if ra.value is not None and rb.value is not None and ra.value != rb.value:
        return False
    if (ra.value == 1) != (rb.value == 1):
        return False  # an unknown size is never taken to be 1: a 1 broadcasts, or is a slip
    if ra.value is None:
        ra, rb = rb, ra
    rb.parent = ra  # ra keeps the value (if any)
    ra.label = ra.label or rb.label
    return True


def one() -> Dim:
    return Dim(1)


Shape = tuple[Dim, ...]


def is_one(dim: Dim) -> bool:
    return dim.root().value == 1


@dataclass
class Declaration:
    symbol: str
    dims: tuple[str | int, ...]  # size names or numbers; () for a scalar
    one_hot: bool = False


@dataclass
class Model:
    """Definitions, declarations and sizes of a writeup, and how to evaluate its expressions."""

    definitions: dict[str, Node]
    declarations: dict[str, Declaration]
    size_names: set[str]
    convention: str = "row"
    dims: dict[str, int] = field(default_factory=dict)
    one_hot: set[str] = field(default_factory=set)
    scalars: set[str] = field(default_factory=set)
    shapes: dict[str, Shape] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    inferred: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.steps = 0
        self.total_steps = 0
        self._keys: dict[Node, str] = {}
        self._free: dict[Node, frozenset[str]] = {}
        self._size_dims: dict[str, Dim] = {}
        self._definition_shapes: dict[str, Shape] = {}
        self._expanding: set[str] = set()
        self._all_dims: list[Dim] = []

    # -- structure

    def free_indices(self, node: Node) -> frozenset[str]:
        """The node's free index letters (syntax.free_indices), found once per node: an
        evaluation asks it of every node it visits, each time."""
        free = self._free.get(node)
        if free is None:
            free = self._free[node] = frozenset(free_indices(node))
        return free
    @contextlib.contextmanager
    def _expanding_definition(self, name: str) -> Iterator[None]:
        """Inside the expansion of ``name``'s definition; refused when it needs itself."""
        if name in self._expanding:
            raise NotUnderstood(f"{name} is defined in terms of itself")
        self._expanding.add(name)
        try:
            yield
        finally:
            self._expanding.discard(name)

    def key(self, node: Node) -> str:
        """The node's tree with every defined symbol expanded: equal keys, one tape node."""
        cached = self._keys.get(node)
        if cached is not None:
            return cached
        if isinstance(node, Sym) and node.name in self.definitions:
            with self._expanding_definition(node.name):
                text = self.key(self.definitions[node.name])
        elif isinstance(node, Sym | Num | Ones | Kronecker):
            text = repr(node)
        elif isinstance(node, Unary):
            text = f"{node.op}({self.key(node.arg)})"
        elif isinstance(node, Binary):
            text = f"{node.op}({self.key(node.left)},{self.key(node.right)})"
        elif isinstance(node, Call):
            text = f"{node.fn}{node.primes}({','.join(self.key(a) for a in node.args)})"
        elif isinstance(node, Index):
            text = f"index{node.indices}({self.key(node.arg)})"
        elif isinstance(node, Reduce):
            bounds = [self.key(b) if b is not None else "-" for b in (node.lower, node.upper)]
            text = f"{node.op}{node.indices}({self.key(node.body)},{','.join(bounds)})"
        elif isinstance(node, Deriv):
            text = f"d({self.key(node.of)},{self.key(node.wrt)})"
        else:
            raise NotUnderstood(f"cannot read {node}")
        self._keys[node] = text
        return text

    def expanded_symbols(self, node: Node, seen: set[str] | None = None) -> set[str]:
        """The input and size symbols ``node`` depends on, through definitions."""
        seen = set() if seen is None else seen
        out: set[str] = set()
        for sub in walk(node):
            if isinstance(sub, Sym):
                if sub.name in self.definitions:
                    if sub.name not in seen:
                        seen.add(sub.name)
                        out |= self.expanded_symbols(self.definitions[sub.name], seen)
                else:
                    out.add(sub.name)
        return out

    # -- shapes
    def new_dim(self, value: int | None = None, label: str | None = None) -> Dim:
        dim = Dim(value, label)
        self._all_dims.append(dim)
        return dim

    def size_dim(self, entry: str | int) -> Dim:
        if isinstance(entry, int):
            return self.new_dim(entry)
        if entry not in self._size_dims:
            value = self.dims.get(entry)
            self._size_dims[entry] = self.new_dim(value, entry)
        return self._size_dims[entry]

    def vector(self, label: str) -> Shape:
        n = self.new_dim(label=label)
        return (one(), n) if self.convention == "row" else (n, one())

    def input_shape(self, name: str) -> Shape:
        if name not in self.shapes:
            declared = self.declarations.get(name)
            if declared is not None:
                dims = tuple(self.size_dim(d) for d in declared.dims)
                if len(dims) == 1:
                    dims = (one(), dims[0]) if self.convention == "row" else (dims[0], one())
                self.shapes[name] = dims
            elif name in self.scalars:
                self.shapes[name] = ()
            elif _is_upper(name):
                self.shapes[name] = (self.new_dim(label=f"rows of {name}"),
                                     self.new_dim(label=f"columns of {name}"))
            else:
                self.shapes[name] = self.vector(f"length of {name}")
        return self.shapes[name]

    def infer(self, node: Node) -> Shape:
        """Unify the sizes ``node`` needs (best effort: a mismatch is left for evaluation to
        report with the concrete shapes)."""
        if isinstance(node, Num | Kronecker):
            return ()
        if isinstance(node, Ones):
            return self.vector("length of 𝟏")
        if isinstance(node, Sym):
            if node.name in self.definitions:
                if node.name not in self._definition_shapes:
                    with self._expanding_definition(node.name):
                        shape = self.infer(self.definitions[node.name])
                    declared = self.declarations.get(node.name)
                    if declared is not None:
                        self.match(shape, self.input_shape(node.name))
                    self._definition_shapes[node.name] = shape
                return self._definition_shapes[node.name]
            if node.name in self.size_names:
                return ()
            return self.input_shape(node.name)
        if isinstance(node, Unary):
            shape = self.infer(node.arg)
            if node.op == "T":
                return shape[::-1]
            if node.op == "inv" and len(shape) == 2:
                unify(shape[0], shape[1])
            return shape
        if isinstance(node, Binary):
            left, right = self.infer(node.left), self.infer(node.right)
            if node.op == "^":
                return left
            if not left or not right:
                return left or right
            if node.op == "@":
                if len(left) == 2 and len(right) == 2 and unify(left[1], right[0]):
                    return (left[0], right[1])
                return (left[0], right[-1])
            return self.broadcast(left, right)
        if isinstance(node, Call):
            shapes = [self.infer(a) for a in node.args]
            if node.fn == "CE":
                self.broadcast(shapes[0], shapes[1])
                return ()
            if node.fn in ("norm", "norm2", "trace"):
                if node.fn == "trace" and len(shapes[0]) == 2:
                    unify(shapes[0][0], shapes[0][1])
                return ()
            if node.fn == "diag" and len(shapes[0]) == 2:
                n = shapes[0][1] if is_one(shapes[0][0]) else shapes[0][0]
                return (n, n)
            return shapes[0]
        if isinstance(node, Index):
            self.infer(node.arg)
            return ()
        if isinstance(node, Reduce):
            for bound in (node.lower, node.upper):
                if bound is not None:
                    self.infer(bound)
            body = self.infer(node.body)
            return body if node.indices else ()
        if isinstance(node, Deriv):
            self.infer(node.of)
            return self.infer(node.wrt)
        raise NotUnderstood(f"cannot give a shape to {node}")

    def broadcast(self, left: Shape, right: Shape) -> Shape:
        if len(left) != len(right):
            return left
        out = []
        for a, b in zip(left, right):
            if is_one(a):
                out.append(b)
            elif is_one(b):
                out.append(a)
            else:
                unify(a, b)
                out.append(a)
        return tuple(out)

    def match(self, a: Shape, b: Shape) -> None:
        if len(a) == len(b):
            for x, y in zip(a, b):
                unify(x, y)

    def settle_sizes(self) -> None:
        """Give every undetermined size a small distinct value."""
        taken = {d.root().value for d in self._all_dims if d.root().value is not None}
        taken |= set(self.dims.values())
        pool = iter(v for v in SIZE_POOL if v not in taken)
        roots: list[Dim] = []
        for dim in self._all_dims:
            root = dim.root()
            if root.value is None and all(root is not r for r in roots):
                roots.append(root)
        for root in roots:
            try:
                root.value = next(pool)
            except StopIteration:
                root.value = 2
        for name, dim in self._size_dims.items():
            self.sizes[name] = int(dim.root().value or 0)
        for name, shape in self.shapes.items():
            if name not in self.declarations:
                self.inferred[name] = self.concrete(shape)

    @staticmethod
    def concrete(shape: Shape) -> tuple[int, ...]:
        if any(d.root().value is None for d in shape):
            raise NotUnderstood("a size was left undetermined")
        return tuple(int(d.root().value) for d in shape)  # type: ignore[arg-type]

    def size_value(self, name: str) -> int:
        if name in self.sizes:
            return self.sizes[name]
        if name in self.dims:
            return self.dims[name]
        raise NotUnderstood(f"the size {name} has no value")

    # -- inputs
    def draw(self, names: set[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for name in sorted(names):
            shape = self.concrete(self.input_shape(name))
            if any(n > MAX_SIZE for n in shape) or int(np.prod(shape)) > MAX_ELEMENTS:
                raise NotUnderstood(f"{name} would have shape {shape}: sizes are limited to "
                                    f"{MAX_SIZE} and {MAX_ELEMENTS} elements; give smaller dims")
            if name in self.one_hot and len(shape) == 2:
                arrays[name] = _one_hot(shape, self.convention, rng)
            else:
                arrays[name] = rng.standard_normal(shape)
        return arrays


def _is_ones(node: Node) -> bool:
    return isinstance(node, Ones) or (isinstance(node, Unary) and isinstance(node.arg, Ones))


def _is_upper(name: str) -> bool:
    return name[:1].isupper()


def _one_hot(shape: tuple[int, ...], convention: str, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(shape)
    if convention == "row" or shape[1] != 1:
        out[np.arange(shape[0]), rng.integers(0, shape[1], size=shape[0])] = 1.0
    else:
        out[rng.integers(0, shape[0]), 0] = 1.0
    return out


# ------------------------------------------------------------------------------- evaluation
class Evaluation:
    """Evaluates expressions of a model at drawn inputs, on the tape (``grad=True``) or as
    numbers, with some nodes replaced (``overrides``: key → array) for finite differences."""

    def __init__(self, model: Model, arrays: dict[str, np.ndarray], grad: bool = False,
                 overrides: dict[str, np.ndarray] | None = None,
                 env: dict[str, int] | None = None, cache: dict | None = None) -> None:
        self.model = model
        self.arrays = arrays
        self.grad = grad
        self.overrides = overrides or {}
        self.env = dict(env or {})
        self.memo: dict[str, Tensor] = {}
        self.inputs = {k: Tensor(v.copy(), requires_grad=grad) for k, v in arrays.items()}
        # float32 inputs (the round-off spread of a link) keep every constant in float32 too
        self.dtype = np.dtype(np.float32 if arrays and all(
            v.dtype == np.float32 for v in arrays.values()) else np.float64)
        self.cache = cache if cache is not None else {}  # derivatives, shared across envs

    def tensor(self, node: Node) -> Tensor:
        self.model.steps += 1
        self.model.total_steps += 1
        if self.model.steps > MAX_STEPS:
            raise NotUnderstood(f"more than {MAX_STEPS} evaluation steps: too much work to "
                                "check (give smaller sizes with dims)")
        if self.model.total_steps > MAX_TOTAL_STEPS:
            raise NotUnderstood(f"the writeup's work budget ({MAX_TOTAL_STEPS} evaluation "
                                "steps) is spent: split the writeup or give smaller sizes")
        indexed = bool(self.model.free_indices(node))
        key = None if indexed else self.model.key(node)
        if key is not None:
            if key in self.overrides:
                return Tensor(self.overrides[key])
            if key in self.memo:
                return self.memo[key]
        value = self._compute(node)
        if key is not None:
            self.memo[key] = value
        return value

    def value(self, node: Node) -> np.ndarray:
        return np.asarray(self.tensor(node).data, dtype=np.float64)

    def const(self, value: Any) -> Tensor:
        """A constant of the expression, in the evaluation's precision."""
        return Tensor(np.asarray(value, dtype=self.dtype))

    def _compute(self, node: Node) -> Tensor:
        model = self.model
        if isinstance(node, Num):
            return self.const(node.value)
        if isinstance(node, Ones):  # beside a matrix product, see _binary; else the scalar 1
            return self.const(1.0)
        if isinstance(node, Kronecker):
            return self.const(float(self.index(node.first) == self.index(node.second)))
        if isinstance(node, Sym):
            if node.name in model.definitions:
                return self.tensor(model.definitions[node.name])
            if node.name in self.inputs:
                return self.inputs[node.name]
            if node.name in model.size_names:
                return self.const(float(model.size_value(node.name)))
            raise NotUnderstood(f"{node.name} has no value")
        if isinstance(node, Unary):
            arg = self.tensor(node.arg)
            if node.op == "neg":
                return -arg
            if node.op == "T":
                return arg if arg.ndim < 2 else al.transpose(arg)
            if arg.ndim < 2 or 1 in arg.shape:  # a number or a vector: the reciprocal
                return 1.0 / arg
            raise NotUnderstood(f"the matrix inverse {node} is not supported (no inverse op)")
        if isinstance(node, Binary):
            return self._binary(node)
        if isinstance(node, Call):
            return self._call(node)
        if isinstance(node, Index):
            arg = self.tensor(node.arg)
            return arg[self.position(arg.shape, node)]
        if isinstance(node, Reduce):
            return self._reduce(node)
        if isinstance(node, Deriv):
            return Tensor(self.derivative(node)[0])
        raise NotUnderstood(f"cannot evaluate {node}")

    def index(self, letter: str) -> int:
        if letter not in self.env:
            raise NotUnderstood(f"the index {letter} has no range")
        return self.env[letter]

    def position(self, shape: tuple[int, ...], node: Index) -> tuple[int, ...]:
        values = [self.index(i) for i in node.indices]
        if len(shape) == 2 and len(values) == 1:
            if shape[0] == 1:
                where = (0, values[0])
            elif shape[1] == 1:
                where = (values[0], 0)
            else:
                raise NotUnderstood(f"{node}: one index on a matrix of shape {shape}")
        elif not shape:
            raise NotUnderstood(f"{node}: an index on a number (shape ())")
        elif len(shape) == len(values):
            where = tuple(values)
        else:
            raise NotUnderstood(f"{node}: {len(values)} indices on shape {shape}")
        if any(not 0 <= w < n for w, n in zip(where, shape)):
            raise NotUnderstood(f"{node}: index {where} outside shape {shape}")
        return where

    def index_range(self, letter: str, node: Node) -> int:
        """How many values the index ``letter`` takes, from the shapes it indexes in ``node``."""
        for sub in walk(node):
            if isinstance(sub, Index) and letter in sub.indices:
                probe = Evaluation(self.model, self.arrays, False, self.overrides,
                                   {**{i: 0 for i in free_indices(sub.arg)}, **self.env},
                                   self.cache)
                with no_grad():
                    shape = probe.tensor(sub.arg).shape
                position = sub.indices.index(letter)
                if len(shape) == 2 and len(sub.indices) == 1:
                    return shape[1] if shape[0] == 1 else shape[0]
                if len(shape) == len(sub.indices):
                    return shape[position]
                raise NotUnderstood(f"{sub}: {len(sub.indices)} indices on shape {shape}")
        raise NotUnderstood(f"the range of the index {letter} is not known (use it as a "
                            "subscript of a vector, or write the sum's bounds)")

    def _binary(self, node: Binary) -> Tensor:
        a, b = self.tensor(node.left), self.tensor(node.right)
        op = node.op
        if op == "@" and _is_ones(node.left) and b.ndim == 2:
            a = self.const(np.ones((1, b.shape[0])))
        elif op == "@" and _is_ones(node.right) and a.ndim == 2:
            b = self.const(np.ones((a.shape[1], 1)))
        if op == "^":
            if b.size != 1:
                raise NotUnderstood(f"the power in {node} is not a number")
            return a ** float(np.asarray(b.data).reshape(()))
        if op == "@" and a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
            return a @ b
        if op in ("@", "x") and (a.size == 1 or b.size == 1):  # scalars scale
            if a.size == 1 and a.ndim:
                a = al.reshape(a, ())
            if b.size == 1 and b.ndim:
                b = al.reshape(b, ())
            return a * b
        if op == "x":
            raise ShapeFailure(f"{node}: × between arrays of shapes {a.shape} and {b.shape}; "
                               "write a matrix product as juxtaposition or \\cdot, an "
                               "element-wise one as \\circ", node)
        if op == "@":
            if a.ndim == 2 and b.ndim == 2 and a.shape[1] == b.shape[0]:
                return a @ b
            raise shape_failure(node, a.shape, b.shape, self.model.convention)
        if not _broadcastable(a.shape, b.shape):
            word = {"+": "added to", "-": "subtracted from", "*": "multiplied element-wise by",
                    "/": "divided by"}[op]
            raise ShapeFailure(f"{node}: an array of shape {a.shape} cannot be {word} one of "
                               f"shape {b.shape}", node)
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                "/": lambda: a / b}[op]()

    def _call(self, node: Call) -> Tensor:
        args = [self.tensor(a) for a in node.args]
        x = args[0]
        fn = node.fn
        if node.primes:
            # the derivative of an element-wise function, as a function
            if fn == "sigma":
                s = al.sigmoid(x)
                return s * (1.0 - s)
            if fn == "tanh":
                return 1.0 - al.tanh(x) ** 2
            if fn == "exp":
                return al.exp(x)
            if fn == "log":
                return 1.0 / x
            if fn == "relu":
                return self.const(np.asarray(x.data) > 0)
        if fn == "sigma":
            return al.sigmoid(x)
        if fn == "tanh":
            return al.tanh(x)
        if fn == "exp":
            return al.exp(x)
        if fn == "log":
            if np.any(np.asarray(x.data) <= 0):
                raise NotUnderstood(f"{node}: the logarithm of a value ≤ 0 at the drawn inputs "
                                    "(is its argument positive for every value of the symbols?)")
            return al.log(x)
        if fn == "relu":
            return al.relu(x)
        if fn == "abs":
            return al.abs(x)
        if fn == "sign":  # its derivative is 0 wherever it is defined
            return self.const(np.sign(np.asarray(x.data)))
        if fn in ("norm", "norm2"):
            if fn == "norm2" and not (x.ndim < 2 or 1 in x.shape):
                raise NotUnderstood(f"{node}: the spectral norm of a matrix is not supported "
                                    "(‖…‖_F is the Frobenius norm)")
            return al.sqrt(al.sum(x * x))
        if fn == "trace":
            if x.ndim != 2 or x.shape[0] != x.shape[1]:
                raise ShapeFailure(f"{node}: the trace of a non-square array of shape {x.shape}",
                                   node)
            return al.sum(x * self.const(np.eye(x.shape[0])))
        if fn == "softmax":
            axis = 0 if x.ndim == 2 and x.shape[1] == 1 and x.shape[0] > 1 else -1
            return al.softmax(x, axis=axis)
        if fn == "CE":
            target, probs = args
            if target.shape != probs.shape:
                raise ShapeFailure(f"{node}: CE of shapes {target.shape} and {probs.shape}",
                                   node)
            if np.any(np.asarray(probs.data) <= 0):
                raise NotUnderstood(f"{node}: CE's second argument must be probabilities")
            return -al.sum(target * al.log(probs))
        if fn == "diag":
            if x.ndim == 2 and 1 in x.shape:
                flat = x.reshape(-1)
                n = flat.shape[0]
                return self.const(np.eye(n)) * al.reshape(flat, (1, n))
            raise NotUnderstood(f"{node}: diag of a matrix is not supported")
        raise NotUnderstood(f"the function {fn} is not supported")

    def _reduce(self, node: Reduce) -> Tensor:
        if not node.indices:
            body = self.tensor(node.body)
            return al.sum(body) if node.op == "sum" else al.max(body)
        ranges = []
        for letter in node.indices:
            if node.upper is not None and len(node.indices) == 1:
                upper = self.tensor(node.upper)
                count = float(np.asarray(upper.data).reshape(()))
                if count != int(count) or count < 1 or count > MAX_ELEMENTS:
                    raise NotUnderstood(f"{node}: the upper bound {node.upper} is not a size")
                ranges.append(range(int(count)))
            else:
                ranges.append(range(self.index_range(letter, node.body)))
        terms = []
        saved = dict(self.env)
        for values in itertools.product(*ranges):
            self.env.update(dict(zip(node.indices, values)))
            terms.append(self.tensor(node.body))
        self.env = saved
        if not terms:
            raise NotUnderstood(f"{node}: an empty range")
        if node.op == "sum":
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            return total
        return al.max(al.stack(terms))

    # -- derivatives
    def derivative(self, node: Deriv) -> tuple[np.ndarray, Numeric | None]:
        """(tape, finite differences) for ``∂ node.of / ∂ node.wrt`` at these inputs; the
        finite differences are computed when asked for by :meth:`derivative_with_numeric`."""
        return self.derivative_with_numeric(node, numeric=False)

    def derivative_with_numeric(self, node: Deriv, numeric: bool = True
                                ) -> tuple[np.ndarray, Numeric | None]:
        env_key = tuple(sorted((k, v) for k, v in self.env.items()
                               if k in self.model.free_indices(node.of)))
        cache_key = (self.model.key(node.of), self.model.key(node.wrt), env_key, numeric)
        if cache_key in self.cache:
            return self.cache[cache_key]
        if isinstance(node.of, Sym) and node.of.name not in self.model.definitions:
            raise NotUnderstood(f"{node}: {node.of} is not defined in the writeup, so its "
                                "derivative cannot be computed")
        for sub in self.model_walk(node.of):
            if isinstance(sub, Deriv):
                raise NotUnderstood(f"{node}: a derivative of an expression that contains a "
                                    "derivative")
        tape, mode = self._tape(node)
        numbers = self._finite_differences(node, mode) if numeric else None
        self.cache[cache_key] = (tape, numbers)
        return tape, numbers

    def model_walk(self, node: Node, seen: set[str] | None = None) -> Iterator[Node]:
        seen = set() if seen is None else seen
        for sub in walk(node):
            yield sub
            if isinstance(sub, Sym) and sub.name in self.model.definitions and \
                    sub.name not in seen:
                seen.add(sub.name)
                yield from self.model_walk(self.model.definitions[sub.name], seen)

    def _tape(self, node: Deriv) -> tuple[np.ndarray, str]:
        """The derivative from the tape, and what it is: the gradient of a scalar, an
        element-wise derivative (the shape of ``wrt``), or the Jacobian of a vector by a vector
        (``(∂out_i/∂wrt_k)``, one row per element of ``out``)."""
        def backward(weights: np.ndarray | None) -> tuple[np.ndarray, Tensor, Tensor]:
            run = Evaluation(self.model, self.arrays, True, None, self.env, self.cache)
            with retain_grads():
                out = run.tensor(node.of)
                key = self.model.key(node.wrt)
                is_input = isinstance(node.wrt, Sym) and node.wrt.name not in \
                    self.model.definitions
                if not is_input and key not in run.memo:
                    raise NotUnderstood(
                        f"{node}: {node.wrt} is not a step of the computation of {node.of} as "
                        f"the writeup defines it (write {node.of} in terms of {node.wrt})")
                wrt = run.tensor(node.wrt)
            if out.requires_grad and weights is None:
                al.sum(out).backward()
            elif out.requires_grad:
                al.sum(out * self.const(weights)).backward()
            grad = wrt.grad
            return (np.zeros(wrt.shape) if grad is None else np.array(grad, np.float64)), \
                out, wrt

        plain, out, wrt = backward(None)
        if out.size == 1:
            return plain, "gradient"
        if out.shape == wrt.shape:
            weights = np.random.default_rng(7).uniform(0.5, 1.5, size=out.shape)
            weighted, _, _ = backward(weights)
            close = 1e-9 if self.dtype == np.float64 else 1e-4
            if np.allclose(weighted, weights * plain, rtol=close, atol=close * 1e-3):
                return plain, "element-wise"
        if not (_is_vector(out.shape) and _is_vector(wrt.shape)):
            raise NotUnderstood(f"{node}: the derivative of {node.of} ({out.shape}) with respect "
                                f"to {node.wrt} ({wrt.shape}) is neither a gradient, nor "
                                "element-wise, nor the Jacobian of a vector by a vector")
        rows = []
        for i in range(out.size):  # the Jacobian, row i = ∂out_i/∂wrt (numerator layout)
            unit = np.zeros(out.shape)
            unit.flat[i] = 1.0
            rows.append(backward(unit)[0].reshape(-1))
        return np.array(rows), "jacobian"

    def _finite_differences(self, node: Deriv, mode: str) -> Numeric:
        """Every element of the derivative estimated with its error by the verifier's step
        sweep: for a gradient, of ``Σ of`` by ``wrt_j``; for an element-wise derivative, of
        ``of_j`` by ``wrt_j``; for a Jacobian, of ``of_i`` by ``wrt_k`` (row i, column k)."""
        key = self.model.key(node.wrt)
        with no_grad():
            base = self.value(node.wrt)
            out0 = self.value(node.of).reshape(-1)
        flat_base = base.reshape(-1)
        runs: dict[tuple[int, float], tuple[np.ndarray, float]] = {}

        def moved(j: int, h: float) -> tuple[np.ndarray, float]:
            if (j, h) not in runs:
                shifted = base.copy()
                flat = shifted.reshape(-1)
                flat[j] = flat_base[j] + h
                run = Evaluation(self.model, self.arrays, False, {key: shifted}, self.env, {})
                with no_grad():
                    runs[(j, h)] = (run.value(node.of).reshape(-1),
                                    float(flat[j]) - float(flat_base[j]))
            return runs[(j, h)]

        def scalar(row: int | None) -> Evaluate:
            def evaluate(j: int, h: float) -> tuple[float, float]:
                out, taken = moved(j, h)
                return (float(np.sum(out)) if row is None else float(out[row])), taken
            return evaluate

        probes: list[Probe] = []
        if mode == "gradient":
            evaluate = scalar(None)
            probes = [Probe(evaluate, j, float(x), float(np.sum(out0)))
                      for j, x in enumerate(flat_base)]
            shape = base.shape
        elif mode == "element-wise":
            probes = [Probe(scalar(j), j, float(x), float(out0[j]))
                      for j, x in enumerate(flat_base)]
            shape = base.shape
        else:
            rows = [scalar(i) for i in range(out0.size)]
            probes = [Probe(rows[i], k, float(flat_base[k]), float(out0[i]))
                      for i in range(out0.size) for k in range(flat_base.size)]
            shape = (out0.size, flat_base.size)
        return Numeric.from_probes(probes, shape)


Evaluate = Callable[[int, float], tuple[float, float]]
UNIT = float(np.finfo(np.float64).eps)
_FIELDS = ("value", "error", "step", "left", "right", "kink", "noise")


@dataclass
class Probe:
    """One element of a derivative as a scalar function of one element: ``evaluate(j, h)``
    moves element ``j`` (value ``x``) by about ``h``; ``f0`` is the function at ``h = 0``."""

    evaluate: Evaluate
    j: int
    x: float
    f0: float


@dataclass
class Numeric:
    """Finite differences of a derivative, element by element (``estimate``, the verifier's
    :class:`~autograd_lite.checking.NumericDerivative`) and, per element, how to probe it again
    (for the Taylor-remainder test); None for an element that is 0 by construction (off the
    diagonal of an element-wise derivative written as its Jacobian)."""

    estimate: NumericDerivative
    probes: list[Probe | None]

    @staticmethod
    def from_probes(probes: Sequence[Probe], shape: tuple[int, ...]) -> Numeric:
        columns: dict[str, list[Any]] = {name: [] for name in _FIELDS}
        total = 0
        for probe in probes:
            with np.errstate(all="ignore"):
                *values, count = estimate_derivative(probe.evaluate, probe.j, probe.x, probe.f0,
                                                     UNIT, UNIT)
            for name, value in zip(_FIELDS, values, strict=True):
                columns[name].append(value)
            total += count
        arrays = {name: np.asarray(columns[name], dtype=bool if name == "kink" else np.float64
                                   ).reshape(shape) for name in _FIELDS}
        return Numeric(NumericDerivative(**arrays, evaluations=total), list(probes))

    @property
    def value(self) -> np.ndarray:
        return self.estimate.value

    @property
    def shape(self) -> tuple[int, ...]:
        return self.estimate.value.shape

    def _map(self, how: Callable[[np.ndarray], np.ndarray], probes: list[Probe | None]
             ) -> Numeric:
        fields = {name: how(getattr(self.estimate, name)) for name in _FIELDS}
        return Numeric(NumericDerivative(**fields, evaluations=self.estimate.evaluations),
                       probes)

    def select(self, where: Any) -> Numeric:
        """The elements ``[where]`` (as the derivative's array is indexed)."""
        positions = np.arange(len(self.probes)).reshape(self.shape)[where]
        return self._map(lambda a: np.asarray(a[where]),
                         [self.probes[i] for i in np.ravel(positions)])

    def reshape(self, shape: tuple[int, ...]) -> Numeric:
        return self._map(lambda a: a.reshape(shape), self.probes)

    def diag(self) -> Numeric:
        """An element-wise derivative as its diagonal Jacobian (0 off the diagonal, exactly)."""
        n = len(self.probes)
        probes: list[Probe | None] = [None] * (n * n)
        for i in range(n):
            probes[i * n + i] = self.probes[i]
        return self._map(lambda a: np.diag(a.reshape(-1)), probes)

    @staticmethod
    def stack(items: Sequence[Numeric], shape: tuple[int, ...]) -> Numeric:
        """The numerics of each value of free indices, as one array of ``shape`` + theirs."""
        inner = items[0].shape
        fields = {name: np.asarray([getattr(item.estimate, name) for item in items]
                                   ).reshape(shape + inner) for name in _FIELDS}
        return Numeric(NumericDerivative(**fields, evaluations=sum(
            item.estimate.evaluations for item in items)),
            [p for item in items for p in item.probes])

    def taylor(self, flat: int, slope: float) -> float | None:
        """The Taylor-remainder order of ``slope`` at element ``flat`` (None: nothing to test)."""
        probe = self.probes[flat] if 0 <= flat < len(self.probes) else None
        if probe is None:
            return None
        with np.errstate(all="ignore"):
            return taylor_order(probe.evaluate, probe.j, probe.x, probe.f0, slope, UNIT, UNIT)


def _is_vector(shape: tuple[int, ...]) -> bool:
    return len(shape) == 1 or (len(shape) == 2 and 1 in shape)


def _broadcastable(a: tuple[int, ...], b: tuple[int, ...]) -> bool:
    if len(a) != len(b):
        return len(a) == 0 or len(b) == 0
    return all(x == y or x == 1 or y == 1 for x, y in zip(a, b))


def shape_failure(node: Binary, a: tuple[int, ...], b: tuple[int, ...],
                  convention: str) -> ShapeFailure:
    """A matrix product whose shapes do not combine, with the products that would."""
    left, right = node.left, node.right
    candidates = [
        (Binary("@", right, left), (b, a)),
        (Binary("@", right, Unary("T", left)), (b, a[::-1])),
        (Binary("@", Unary("T", right), left), (b[::-1], a)),
        (Binary("@", left, Unary("T", right)), (a, b[::-1])),
        (Binary("@", Unary("T", left), right), (a[::-1], b)),
    ]
    fits = tuple((str(alt), alt) for alt, (x, y) in candidates
                 if len(x) == 2 and len(y) == 2 and x[1] == y[0])
    message = f"{node}: {a} times {b}, whose inner sizes {a[-1]} and {b[0]} differ"
    if a == b:  # the element-wise product first: it is what such a slip usually means
        fits = ((f"{_str(left)} ∘ {_str(right)}", Binary("*", left, right)),) + fits
    return ShapeFailure(message, node, fits, convention)


def _str(node: Node) -> str:
    text = str(node)
    return f"({text})" if isinstance(node, Binary) and node.op != "^" else text


def as_array(value: Tensor | np.ndarray) -> np.ndarray:
    return np.asarray(value.data if isinstance(value, Tensor) else value, dtype=np.float64)


def run_safely(fn, *args):
    """Run an evaluation; engine errors (shapes, domains) become :class:`ShapeFailure` or
    :class:`NotUnderstood` with the engine's message."""
    try:
        with np.errstate(all="ignore"):
            return fn(*args)
    except (ShapeFailure, NotUnderstood):
        raise
    except AutogradLiteError as exc:
        raise ShapeFailure(str(exc)) from None
    except (ValueError, IndexError, ZeroDivisionError, OverflowError, RecursionError) as exc:
        raise NotUnderstood(f"evaluation failed: {type(exc).__name__}: {exc}") from None
