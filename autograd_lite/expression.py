"""Expressions for ``autograd-lite graph``: parsed with :mod:`ast`, checked against a whitelist
and a set of limits, and interpreted node by node. Nothing is ever passed to ``eval``, ``exec``
or ``compile``.

Allowed: input names, numbers, ``+ - * / @ **`` and unary ``-``/``+``, calls of registered ops
with their operands and constant settings (``sum(x, axis=1)``, ``reduction="sum"``), the same
ops as methods (``tanh(x @ W).sum()``, ``.sum(axis=0)``, ``.reshape(-1, 1)``), ``.T``, and
indexing with integers, slices and integer inputs.

Bounds (every refusal is an :class:`~autograd_lite.errors.ExpressionError` that quotes at most a
short excerpt of the input): :data:`MAX_LENGTH` characters, :data:`MAX_NESTING` levels of
nesting, number literals of :data:`MAX_LITERAL_CHARS` characters, :data:`MAX_AXES` axes, names
of :data:`MAX_NAME_CHARS` characters, and an element budget (:data:`DEFAULT_MAX_ELEMENTS`, the
``max_elements`` argument, ``--max-elements`` on the command line) that every array of the
evaluation counts against *before* it is allocated.
"""

from __future__ import annotations

import ast
import difflib
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograd_lite import ops
from autograd_lite.errors import AutogradLiteError, ExpressionError
from autograd_lite.registry import Op, get_op, list_ops
from autograd_lite.tensor import Tensor, raw

MAX_LENGTH = 5_000  # characters of an expression
MAX_NESTING = 100  # levels of the expression tree (operators, calls, brackets, unary signs)
MAX_LITERAL_CHARS = 24  # characters of one number literal
MAX_STRING_CHARS = 32  # characters of a string setting (reduction="sum")
MAX_AXES = 32  # axes of an array or a shape, items of an index (NumPy allows 64)
MAX_NAME_CHARS = 64  # characters of an input name
MAX_DIGITS = 12  # digits of one size in an --input shape
DEFAULT_MAX_ELEMENTS = 20_000_000  # elements of all arrays together (160 MB of float64 values)
MATMUL_WORK = 100  # multiply-adds a matmul may do per element of the budget (2·10⁹ by default)
EXCERPT_CHARS = 60  # characters of the input quoted in an error message

ALLOWED = ("input names, numbers, + - * / @ ** and unary -, calls of registered ops "
           "(sigmoid(x), sum(x, axis=1)) with constant settings, the same ops as methods "
           "(x.sum(axis=0), x.reshape(-1, 1)), .T, and indexing with integers, slices or "
           "integer inputs")

BINARY: dict[type, Op] = {
    ast.Add: ops.add, ast.Sub: ops.sub, ast.Mult: ops.mul, ast.Div: ops.div,
    ast.MatMult: ops.matmul, ast.Pow: ops.pow,
}
# What the positional arguments of a method call mean when they are settings, as
# NumPy's and the Tensor's methods take them: x.reshape(2, 3), x.transpose(1, 0), x.sum(0).
METHOD_SETTINGS = {"reshape": ("shape", True), "broadcast_to": ("shape", True),
                   "transpose": ("axes", True), "astype": ("dtype", False),
                   "sum": ("axis", False), "mean": ("axis", False), "max": ("axis", False),
                   "min": ("axis", False), "logsumexp": ("axis", False),
                   "softmax": ("axis", False), "log_softmax": ("axis", False)}
# Ops whose axis is one integer (the rest take an integer, a tuple of them or None).
ONE_AXIS = {"softmax", "log_softmax", "softmax_cross_entropy", "stack", "concatenate"}
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_SIZE = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` quoted for an error message: whole when short, else its start and its length."""
    text = str(text)
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text):,} characters)"


def suggest(name: str, candidates: Any) -> str:
    """' (did you mean 'sigmoid'?)' for a close match among ``candidates``, else ''."""
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)"


# ------------------------------------------------------------------------------ signatures
@dataclass(frozen=True)
class Signature:
    """What an op takes: how many operands (``most`` None: any number) and which settings
    (None: unknown, the op checks them itself)."""

    least: int
    most: int | None
    settings: frozenset[str] | None
    required: frozenset[str] = frozenset()  # settings without a default

    def describe(self, name: str) -> str:
        count = (f"{self.least}" if self.most == self.least else
                 f"at least {self.least}" if self.most is None else
                 f"{self.least} to {self.most}")
        noun = "operand" if self.most == self.least == 1 else "operands"
        settings = (f"; settings: {', '.join(sorted(self.settings))}" if self.settings else
                    "; no settings" if self.settings is not None else "")
        return f"{name} takes {count} {noun}{settings}"


def signature(op: Op) -> Signature:
    """The operands and settings of ``op``: its registered signature (what ``Op.bind`` takes);
    an operand the forward gives a default may be left out."""
    if op.signature is None:
        return Signature(0, None, None)
    parameters = op.signature.parameters
    fixed = [name for name in op.inputs if not name.startswith("*")]
    variadic = len(fixed) < len(op.inputs)
    least = sum(1 for name in fixed if parameters[name].default is parameters[name].empty)
    return Signature(max(least, 1 if variadic and not fixed else 0),
                     None if variadic else len(fixed),
                     None if op.takes_any_setting else frozenset(op.settings),
                     frozenset(op.required))


# --------------------------------------------------------------------------------- parsing
class _Checker:
    """Checks a parsed expression against the whitelist and the limits."""

    def __init__(self, source: str) -> None:
        self.source = source

    def refuse(self, node: ast.AST, why: str, allowed: bool = True) -> ExpressionError:
        where = ""
        if hasattr(node, "col_offset"):
            segment = ast.get_source_segment(self.source, node) or ""
            where = f" at column {node.col_offset + 1} ({excerpt(segment, 40)})"
        return ExpressionError(f"{why}{where}" + (f". Allowed: {ALLOWED}." if allowed else ""))

    def check(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp):
            if type(node.op) not in BINARY:
                raise self.refuse(node, f"operator {type(node.op).__name__} is not allowed")
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.USub, ast.UAdd)):
                raise self.refuse(node, f"operator {type(node.op).__name__} is not allowed")
            self.check(node.operand)
        elif isinstance(node, ast.Constant):
            self.number(node)
        elif isinstance(node, ast.Name):
            self.name(node)
        elif isinstance(node, ast.Call):
            self.call(node)
        elif isinstance(node, ast.Attribute):
            if node.attr != "T":
                raise self.refuse(node, f"attribute '.{node.attr}' is not allowed (only .T, "
                                        "and methods of registered ops such as .sum())")
            self.check(node.value)
        elif isinstance(node, ast.Subscript):
            self.check(node.value)
            self.index(node.slice)
        else:
            raise self.refuse(node, f"{type(node).__name__} is not allowed")

    def number(self, node: ast.Constant) -> None:
        if type(node.value) not in (int, float):
            raise self.refuse(node, f"constant {excerpt(repr(node.value), 30)} is not a number")
        text = ast.get_source_segment(self.source, node) or ""
        if len(text) > MAX_LITERAL_CHARS:
            raise self.refuse(node, f"a number literal of {len(text)} characters is too long "
                                    f"(at most {MAX_LITERAL_CHARS})", allowed=False)
        if not math.isfinite(float(node.value)):
            raise self.refuse(node, "the number is not finite in float64", allowed=False)

    def name(self, node: ast.Name) -> None:
        if len(node.id) > MAX_NAME_CHARS:
            raise self.refuse(node, f"a name of {len(node.id)} characters is too long (at most "
                                    f"{MAX_NAME_CHARS})", allowed=False)
        if not NAME.fullmatch(node.id):
            raise self.refuse(node, f"name '{node.id}' is not allowed (names start with a "
                                    "letter)")

    def setting(self, node: ast.AST) -> None:
        """A setting's value: a number, a short string, None, True/False, or a tuple of them."""
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str):
                if len(value) > MAX_STRING_CHARS:
                    raise self.refuse(node, f"a string of {len(value)} characters is too long "
                                            f"(at most {MAX_STRING_CHARS})", allowed=False)
                return
            if value is None or isinstance(value, bool):
                return
            self.number(node)
            return
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)) \
                and isinstance(node.operand, ast.Constant):
            if type(node.operand.value) not in (int, float):
                raise self.refuse(node, "a sign goes before a number only")
            self.number(node.operand)
            return
        if isinstance(node, ast.Tuple | ast.List):
            if len(node.elts) > MAX_AXES:
                raise self.refuse(node, f"a tuple of {len(node.elts)} items is too long (at most "
                                        f"{MAX_AXES})", allowed=False)
            for element in node.elts:
                if isinstance(element, ast.Tuple | ast.List):
                    raise self.refuse(element, "settings hold numbers or tuples of numbers")
                self.setting(element)
            return
        raise self.refuse(node, "settings must be constants (numbers, strings, None, True, "
                                "False or tuples of numbers)")

    def call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            name, method = func.id, False
        elif isinstance(func, ast.Attribute):
            name, method = func.attr, True
            self.check(func.value)
        else:
            raise self.refuse(node, "only registered ops can be called")
        if name not in list_ops():
            kind = "method" if method else "op"
            raise self.refuse(node, f"'{name}' is not a registered op"
                                    f"{suggest(name, list_ops())} (every {kind} called must "
                                    "be one; `autograd-lite ops` lists them)")
        op = get_op(name)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.refuse(arg, "*arguments are not allowed")
        constants = method and name in METHOD_SETTINGS
        if constants and len(node.args) > MAX_AXES:
            raise self.refuse(node, f"a call with {len(node.args)} arguments is too long (at "
                                    f"most {MAX_AXES})", allowed=False)
        for arg in node.args:
            if constants:
                self.setting(arg)
            else:
                self.check(arg)
        sig = signature(op)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse(node, "**arguments are not allowed")
            if sig.settings is not None and keyword.arg not in sig.settings:
                raise self.refuse(keyword.value, f"{name} has no setting '{keyword.arg}'"
                                  f"{suggest(keyword.arg, sig.settings)}; "
                                  f"{sig.describe(name)}", allowed=False)
            self.setting(keyword.value)
        given = {k.arg for k in node.keywords}
        if constants and node.args:
            given.add(METHOD_SETTINGS[name][0])
        missing = sorted(sig.required - given)
        if missing:
            raise self.refuse(node, f"{name} needs {', '.join(f'{m}=…' for m in missing)}; "
                                    f"{sig.describe(name)}", allowed=False)
        if constants:
            key, many = METHOD_SETTINGS[name]
            if node.args and any(k.arg == key for k in node.keywords):
                raise self.refuse(node, f"{name}: '{key}' given twice", allowed=False)
            if not many and len(node.args) > 1 + (key == "axis" and name not in ONE_AXIS):
                raise self.refuse(node, f".{name}() takes its {key} positionally, the rest by "
                                        "keyword", allowed=False)
            return
        operands = len(node.args) + method
        if operands < sig.least or (sig.most is not None and operands > sig.most):
            extra = (f" (give settings by keyword, e.g. {name}(x, axis=1))" if sig.settings
                     else "")
            raise self.refuse(node, f"{sig.describe(name)}, got {operands}{extra}",
                              allowed=False)

    def index(self, node: ast.AST, top: bool = True) -> None:
        if isinstance(node, ast.Tuple) and top:
            if len(node.elts) > MAX_AXES:
                raise self.refuse(node, f"an index of {len(node.elts)} items is too long (at "
                                        f"most {MAX_AXES})", allowed=False)
            for element in node.elts:
                self.index(element, top=False)
        elif isinstance(node, ast.Slice):
            for part in (node.lower, node.upper, node.step):
                if part is not None and not _integer(part):
                    raise self.refuse(node, "slice bounds must be integers")
                if part is not None:
                    self.setting(part)
        elif isinstance(node, ast.Name):
            self.name(node)
        elif _integer(node):
            self.setting(node)
        else:
            raise self.refuse(node, "indices must be integers, slices or integer inputs")


def _integer(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int


def _lexical_depth(source: str) -> int:
    """The deepest bracket nesting or the longest run of signs (``- - -x``): what Python's own
    parser would recurse on before any tree exists."""
    deepest = depth = run = 0
    for ch in source:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
        if ch in "+-~":
            run += 1
            deepest = max(deepest, run)
        elif not ch.isspace() and ch not in "([":
            run = 0
    return deepest


def _tree_depth(tree: ast.AST, limit: int) -> int:
    """The depth of ``tree`` (iteratively, stopping past ``limit``)."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > deepest:
            deepest = depth
            if deepest > limit:
                break
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                     if not isinstance(child, ast.expr_context))
    return deepest


def parse(expression: str) -> ast.Expression:
    """Parse and check ``expression`` against the whitelist and the limits; raise
    :class:`ExpressionError` otherwise."""
    if not isinstance(expression, str):
        raise ExpressionError(f"an expression is a string, got {type(expression).__name__}")
    source = expression.strip()
    if not source:
        raise ExpressionError("the expression is empty")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"the expression {excerpt(source)} is longer than {MAX_LENGTH:,} "
                              "characters")
    if _lexical_depth(source) > MAX_NESTING:
        raise ExpressionError(f"the expression {excerpt(source)} nests deeper than "
                              f"{MAX_NESTING} levels (brackets or signs)")
    try:
        with warnings.catch_warnings():  # (Python's SyntaxWarnings would be a second line)
            warnings.simplefilter("ignore")
            tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        column = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"cannot parse {excerpt(source)}{column}: {exc.msg}. "
                              f"Allowed: {ALLOWED}.") from None
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        raise ExpressionError(f"cannot parse {excerpt(source)}: {type(exc).__name__}"
                              f"{': ' + str(exc)[:80] if str(exc) else ''}") from None
    if _tree_depth(tree, MAX_NESTING) > MAX_NESTING:
        raise ExpressionError(f"the expression {excerpt(source)} nests deeper than "
                              f"{MAX_NESTING} levels (e.g. a chain of more than {MAX_NESTING} "
                              "operators)")
    _Checker(source).check(tree.body)
    return tree


# ------------------------------------------------------------------------------ input specs
_SPEC = re.compile(r"(?P<name>[^=]*)=(?P<shape>[^:]*)(?::(?P<kind>[^:]*)(?::(?P<n>.*))?)?")


@dataclass
class InputSpec:
    """``NAME=SHAPE`` (random normal floats) or ``NAME=SHAPE:int[:N]`` (integer labels in
    [0, N); without N, the number of classes of the cross-entropy that uses them, or the size
    of the axis they index). SHAPE is
    ``scalar`` or sizes joined by ``x`` (``20x10``), each at least 1."""

    name: str
    shape: tuple[int, ...]
    integer: bool = False
    classes: int | None = None

    @classmethod
    def parse(cls, text: str) -> InputSpec:
        usage = ("expected NAME=SHAPE (x=20x10, b=5, c=scalar) or NAME=SHAPE:int[:N] for "
                 "integer labels (y=20:int:10)")
        match = _SPEC.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise ExpressionError(f"--input {excerpt(text, 40)}: {usage}")
        name, shape_text = match["name"].strip(), match["shape"].strip().lower()
        if not NAME.fullmatch(name) or len(name) > MAX_NAME_CHARS:
            raise ExpressionError(f"--input {excerpt(text, 40)}: the name must start with a "
                                  f"letter and hold letters, digits or _ (at most "
                                  f"{MAX_NAME_CHARS} characters); {usage}")
        shape = cls._shape(text, shape_text, usage)
        kind, classes = match["kind"], match["n"]
        if kind is not None and kind.strip() != "int":
            raise ExpressionError(f"--input {excerpt(text, 40)}: unknown kind {excerpt(kind, 20)}"
                                  f"; {usage}")
        if classes is not None:
            if not _SIZE.fullmatch(classes.strip()) \
                    or int(classes) < 1:
                raise ExpressionError(f"--input {excerpt(text, 40)}: the number of classes N "
                                      "must be a whole number of at least 1")
            classes = int(classes)
        return cls(name, shape, kind is not None, classes)

    @staticmethod
    def _shape(text: str, shape_text: str, usage: str) -> tuple[int, ...]:
        if shape_text == "scalar":
            return ()
        parts = shape_text.split("x")
        if not all(_SIZE.fullmatch(p) for p in parts):
            raise ExpressionError(f"--input {excerpt(text, 40)}: the shape must be 'scalar' or "
                                  f"sizes joined by x; {usage}")
        if len(parts) > MAX_AXES:
            raise ExpressionError(f"--input {excerpt(text, 40)}: {len(parts)} axes are more "
                                  f"than {MAX_AXES}")
        shape = tuple(int(p) for p in parts)
        if 0 in shape:
            raise ExpressionError(f"--input {excerpt(text, 40)}: every size must be at least 1 "
                                  "(an empty array has no gradient to draw)")
        return shape


def parse_inputs(texts: Any) -> dict[str, InputSpec]:
    """``--input`` texts as specs by name; a name given twice is refused."""
    specs: dict[str, InputSpec] = {}
    for text in texts:
        spec = InputSpec.parse(text)
        if spec.name in specs:
            raise ExpressionError(f"--input {spec.name} is given twice; give each input once")
        specs[spec.name] = spec
    return specs


# ------------------------------------------------------------------------------ evaluation
@dataclass
class Evaluation:
    """The result of :func:`evaluate`: the output, the input tensors, and every op's result
    in order with the expression node it came from (for :func:`first_nonfinite`)."""

    output: Tensor
    inputs: dict[str, Tensor]
    steps: list[tuple[Any, str]] = field(default_factory=list)


class Evaluator:
    """Interprets a checked expression tree on tensors made from input specs, counting every
    array against the element budget before it is made."""

    def __init__(self, specs: Mapping[str, InputSpec], seed: int = 0,
                 max_elements: int = DEFAULT_MAX_ELEMENTS, source: str = "") -> None:
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) \
                or not 0 <= seed < 2 ** 64:
            raise ExpressionError(f"the seed must be a whole number from 0 to 2**64 - 1, got "
                                  f"{excerpt(repr(seed), 30)}")
        if isinstance(max_elements, bool) or not isinstance(max_elements, int | np.integer) \
                or max_elements < 1:
            raise ExpressionError(f"the element budget must be a whole number of at least 1, "
                                  f"got {excerpt(repr(max_elements), 30)}")
        for key, spec in specs.items():
            if not isinstance(spec, InputSpec) or spec.name != key:
                raise ExpressionError(f"specs map each input name to its InputSpec; "
                                      f"{excerpt(str(key), 30)} does not")
        self.specs = dict(specs)
        self.rng = np.random.default_rng(seed)
        self.max_elements = int(max_elements)
        self.elements = 0
        self.source = source
        self.tensors: dict[str, Tensor] = {}
        self.steps: list[tuple[Any, str]] = []

    # -- bookkeeping
    def where(self, node: ast.AST) -> str:
        segment = ast.get_source_segment(self.source, node) or ""
        return f"at column {getattr(node, 'col_offset', 0) + 1} ({excerpt(segment, 40)})"

    def spend(self, elements: int, node: ast.AST | None, what: str) -> None:
        """Count ``elements`` against the budget, or refuse before anything is allocated."""
        if self.elements + elements > self.max_elements:
            where = f" {self.where(node)}" if node is not None else ""
            raise ExpressionError(
                f"{what}{where} needs {elements:,} elements, which with the {self.elements:,} "
                f"already made exceeds the budget of {self.max_elements:,} elements; make the "
                "inputs smaller or raise the budget (--max-elements N, or max_elements=N)")
        self.elements += elements

    def input(self, name: str, node: ast.AST | None = None,
              fits: tuple[int, str] | None = None) -> Tensor:
        """The tensor of input ``name``, made on first use. ``fits``: (a count, what it counts)
        where integer labels are used, which bounds them when the spec gives no N."""
        if name in self.tensors:
            return self.tensors[name]
        spec = self.specs.get(name)
        if spec is None:
            raise ExpressionError(f"'{name}' has no --input; give --input {name}=SHAPE"
                                  f"{suggest(name, self.specs)} (inputs given: "
                                  f"{', '.join(self.specs) or 'none'})")
        self.spend(math.prod(spec.shape), node, f"--input {name}")
        if spec.integer:
            bound = spec.classes or (fits[0] if fits else None)
            if bound is None:
                raise ExpressionError(f"--input {name}: say how many classes the labels range "
                                      f"over ({name}=SHAPE:int:N), or use {name} as the target "
                                      "of softmax_cross_entropy or as an index")
            if fits is not None and bound > fits[0]:
                raise ExpressionError(f"--input {name}: labels in [0, {bound}) do not fit the "
                                      f"{fits[0]} {fits[1]}; give at most :int:{fits[0]}")
            tensor = Tensor(self.rng.integers(0, bound, size=spec.shape), name=name)
        else:
            tensor = Tensor(self.rng.standard_normal(spec.shape), requires_grad=True, name=name)
        self.tensors[name] = tensor
        return tensor

    # -- interpretation
    def evaluate(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return self.evaluate(node.body)
        if isinstance(node, ast.BinOp):
            return self.apply(BINARY[type(node.op)], [self.evaluate(node.left),
                                                      self.evaluate(node.right)], {}, node)
        if isinstance(node, ast.UnaryOp):
            value = self.evaluate(node.operand)
            return self.apply(ops.neg, [value], {}, node) if isinstance(node.op, ast.USub) \
                else value
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return self.input(node.id, node)
        if isinstance(node, ast.Attribute):  # .T
            return self.apply(ops.transpose, [self.evaluate(node.value)], {}, node)
        if isinstance(node, ast.Subscript):
            value = self.evaluate(node.value)
            index = ops.normalize_index(self._index(node.slice, np.shape(raw(value))))
            return self.apply(ops.getitem, [value], {"index": index}, node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ExpressionError(f"{type(node).__name__} is not allowed")  # unreachable after parse

    def _index(self, node: ast.AST, shape: tuple[int, ...], axis: int = 0) -> Any:
        """An index's value; integer inputs without N range over the axis they index."""
        if isinstance(node, ast.Tuple):
            return tuple(self._index(e, shape, i) for i, e in enumerate(node.elts))
        if isinstance(node, ast.Slice):
            return slice(*(None if p is None else ast.literal_eval(p)
                           for p in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Name):
            fits = (shape[axis], f"rows of axis {axis} that they index") if axis < len(shape) \
                else None
            return self.input(node.id, node, fits).data
        return ast.literal_eval(node)

    def _call(self, node: ast.Call) -> Any:
        func = node.func
        method = isinstance(func, ast.Attribute)
        op = get_op(func.attr if method else func.id)  # type: ignore[union-attr]
        settings = {k.arg: _literal(k.value) for k in node.keywords}
        operands = [self.evaluate(func.value)] if method else []  # type: ignore[union-attr]
        if method and op.name in METHOD_SETTINGS:
            key, many = METHOD_SETTINGS[op.name]
            values = [_literal(a) for a in node.args]
            if many and values:
                settings[key] = tuple(values[0]) if len(values) == 1 and \
                    isinstance(values[0], tuple | list) else tuple(values)
            elif values:
                settings[key] = values[0]
                if len(values) > 1:
                    settings["keepdims"] = values[1]
            if op.name == "transpose" and settings.get("axes") == ():
                settings["axes"] = None
            return self.apply(op, operands, settings, node)
        if op.name == "softmax_cross_entropy" and len(node.args) + method == 2 \
                and isinstance(node.args[-1], ast.Name):
            logits = operands[0] if method else self.evaluate(node.args[0])
            axis = settings.get("axis", -1)
            self._check_axis(op, axis, np.ndim(raw(logits)), node)
            classes = np.shape(raw(logits))[axis] if np.ndim(raw(logits)) else None
            fits = (classes, "classes of the cross-entropy that uses them") if classes \
                else None
            target = self.input(node.args[-1].id, node.args[-1], fits)
            return self.apply(op, [logits, target], settings, node)
        operands += [self.evaluate(a) for a in node.args]
        return self.apply(op, operands, settings, node)

    def apply(self, op: Op, operands: list[Any], settings: dict[str, Any], node: ast.AST
              ) -> Any:
        """Check the settings, count the output against the budget, run the op."""
        settings = self._checked_settings(op, operands, settings, node)
        predicted = _predicted_size(op.name, operands, settings)
        if predicted is not None:
            self.spend(predicted, node, f"'{op.name}'")
        if op.name == "matmul" and len(operands) == 2:
            work = _matmul_work(*(np.shape(raw(a)) for a in operands))
            if work > MATMUL_WORK * self.max_elements:
                raise ExpressionError(
                    f"matmul {self.where(node)} would do {work:,} multiply-adds, more than "
                    f"{MATMUL_WORK} per element of the budget ({MATMUL_WORK * self.max_elements:,}"
                    "); make the inputs smaller or raise the budget (--max-elements N, or "
                    "max_elements=N)")
        try:
            result = op(*operands, **settings)
        except AutogradLiteError as exc:
            raise ExpressionError(f"{self.where(node)}: {exc}") from None
        array = np.asarray(raw(result))
        if predicted is None:
            self.spend(array.size, node, f"'{op.name}'")
        if array.dtype.kind not in "fiub":
            raise ExpressionError(f"'{op.name}' {self.where(node)} gave {array.dtype} values; "
                                  "only real numbers can be drawn")
        self.steps.append((result, f"op '{op.name}' {self.where(node)}"))
        return result

    def _checked_settings(self, op: Op, operands: list[Any], settings: dict[str, Any],
                          node: ast.AST) -> dict[str, Any]:
        ndim = np.ndim(raw(operands[0])) if operands else 0
        for key, value in settings.items():
            if key == "axis" and value is not None:
                self._check_axis(op, value, ndim + (op.name == "stack"), node)
            elif key == "keepdims" and not isinstance(value, bool):
                raise self._bad(op, node, f"keepdims must be True or False, got "
                                          f"{_shown(value)}")
            elif key == "shape":
                settings[key] = self._check_shape(op, value, node)
            elif key == "axes" and value is not None:
                if not isinstance(value, tuple) or None in _ints(value) \
                        or sorted(value) != list(range(ndim)):
                    raise self._bad(op, node, f"axes must order all {ndim} axes once "
                                              f"(a permutation of {tuple(range(ndim))}), got "
                                              f"{_shown(value)}")
            elif key == "dtype":
                try:
                    kind = np.dtype(value).kind if isinstance(value, str) else "?"
                except TypeError:
                    kind = "?"
                if kind not in "fiub":
                    raise self._bad(op, node, f"dtype must name a real number type such as "
                                              f"'float32', got {excerpt(str(value), 20)}")
        return settings

    def _check_axis(self, op: Op, axis: Any, ndim: int, node: ast.AST) -> None:
        one = op.name in ONE_AXIS
        axes = (axis,) if not isinstance(axis, tuple) or one else axis
        if any(isinstance(a, bool) or not isinstance(a, int) for a in axes):
            kind = "an integer" if one else "an integer, a tuple of integers or None"
            raise self._bad(op, node, f"axis must be {kind}, got {_shown(axis)}")
        bad = [a for a in axes if not -ndim <= a < ndim]
        if bad:
            raise self._bad(op, node, f"axis {bad[0]} is out of range for {ndim} "
                                      f"axes (use {-ndim} to {ndim - 1})" if ndim else
                            f"axis {bad[0]} given for a scalar, which has no axes")
        if len({a % ndim for a in axes}) != len(axes):
            raise self._bad(op, node, f"axis {_shown(axis)} repeats an axis")

    def _check_shape(self, op: Op, shape: Any, node: ast.AST) -> tuple[int, ...]:
        shape = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
        if not isinstance(shape, tuple) or any(isinstance(s, bool) or not isinstance(s, int)
                                               for s in shape):
            raise self._bad(op, node, f"shape must be integers, got {_shown(shape)}")
        least = -1 if op.name == "reshape" else 0
        if len(shape) > MAX_AXES or any(s < least for s in shape) or shape.count(-1) > 1:
            raise self._bad(op, node, f"shape {_shown(shape)} must have at most {MAX_AXES} sizes, "
                                      f"each at least {max(least, 0)}"
                                      + (" (or one -1)" if least else ""))
        return shape

    def _bad(self, op: Op, node: ast.AST, why: str) -> ExpressionError:
        return ExpressionError(f"{op.name} {self.where(node)}: {why}")


def _shown(value: Any) -> str:
    """A setting's value for a message, cut short."""
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:39] + "…"


def _ints(values: Any) -> list[Any]:
    return [v if isinstance(v, int) and not isinstance(v, bool) else None for v in values]


def _literal(node: ast.AST) -> Any:
    """A checked setting's value (lists become tuples)."""
    value = ast.literal_eval(node)
    return tuple(value) if isinstance(value, list) else value


def _predicted_size(name: str, operands: list[Any], settings: Mapping[str, Any]) -> int | None:
    """An upper bound on the elements of a built-in op's output, from shapes alone (None for an
    op this function does not know: it is counted once made)."""
    shapes = [np.shape(raw(a)) for a in operands]
    sizes = [math.prod(s) for s in shapes]
    if name in ("broadcast_to", "scatter_add"):
        return math.prod(settings.get("shape", ()))
    if name in ("stack", "concatenate"):
        return sum(sizes)
    if name == "matmul" and len(shapes) == 2:
        a, b = (tuple(s) for s in shapes)
        if len(a) == 0 or len(b) == 0:
            return max(sizes)
        rows = a[-2] if len(a) > 1 else 1
        columns = b[-1] if len(b) > 1 else 1
        try:
            batch = np.broadcast_shapes(a[:-2], b[:-2])
        except ValueError:
            return 0  # the op explains the mismatch
        return math.prod(batch) * rows * columns
    if name == "getitem":
        return _indexed_size(shapes[0], settings.get("index"))
    if name in METHOD_SETTINGS or name in (
            "reshape", "broadcast_to", "astype", "scatter_add", "add", "sub", "mul", "div",
            "pow", "neg", "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu",
            "softmax_cross_entropy"):
        try:
            return math.prod(np.broadcast_shapes(*shapes))
        except ValueError:
            return max(sizes, default=1)
    return None


def _matmul_work(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    """The multiply-adds of ``a @ b`` (and of each of its two gradients)."""
    if not a or not b:
        return 0
    try:
        batch = math.prod(np.broadcast_shapes(a[:-2], b[:-2]))
    except ValueError:
        return 0  # the op explains the mismatch
    rows = a[-2] if len(a) > 1 else 1
    columns = b[-1] if len(b) > 1 else 1
    return batch * rows * a[-1] * columns


def _indexed_size(shape: tuple[int, ...], index: Any) -> int:
    """An upper bound on the size of ``x[index]`` for ``x`` of ``shape``."""
    parts = index if isinstance(index, tuple) else (index,)
    arrays, kept, axis = [], 1, 0
    for part in parts:
        if part is None:
            continue
        if isinstance(part, np.ndarray) and part.dtype.kind == "b":
            arrays.append((int(part.sum()),))
            axis += part.ndim
        elif isinstance(part, np.ndarray):
            arrays.append(part.shape)
            axis += 1
        elif isinstance(part, slice):
            kept *= shape[axis] if axis < len(shape) else 1
            axis += 1
        else:
            axis += 1
    kept *= math.prod(shape[axis:])
    try:
        selected = math.prod(np.broadcast_shapes(*arrays)) if arrays else 1
    except ValueError:
        return 0  # the op explains the mismatch
    return selected * kept


def evaluate(expression: str, specs: Mapping[str, InputSpec], seed: int = 0,
             max_elements: int = DEFAULT_MAX_ELEMENTS) -> Evaluation:
    """Parse, check and evaluate ``expression`` on seeded random inputs, within the limits."""
    tree = parse(expression)
    evaluator = Evaluator(specs, seed, max_elements, source=expression.strip())
    try:
        result = evaluator.evaluate(tree)
    except ExpressionError:
        raise
    except AutogradLiteError as exc:
        raise ExpressionError(f"evaluating {excerpt(expression)}: {exc}") from None
    except RecursionError:
        raise ExpressionError(f"{excerpt(expression)} is too deeply nested to evaluate") \
            from None
    if not isinstance(result, Tensor):
        raise ExpressionError(f"{excerpt(expression)} does not use any input")
    return Evaluation(result, evaluator.tensors, evaluator.steps)


def build(expression: str, specs: Mapping[str, InputSpec], seed: int = 0,
          max_elements: int = DEFAULT_MAX_ELEMENTS) -> tuple[Tensor, dict[str, Tensor]]:
    """Parse, check and evaluate ``expression`` on seeded random inputs: (output, inputs)."""
    evaluation = evaluate(expression, specs, seed, max_elements)
    return evaluation.output, evaluation.inputs


def first_nonfinite(evaluation: Evaluation) -> tuple[Any, str] | None:
    """The first NaN or Inf of an evaluation, as (the tensor holding it, what made it): the
    first op whose value is not finite; else, after ``backward()`` with retained gradients,
    the op whose backward pass first made a gradient that is not finite. None if all finite."""
    for result, where in evaluation.steps:
        count = _nonfinite(raw(result))
        if count:
            return result, f"{where} produced {count} NaN/Inf value(s)"
    # Backward order is the reverse of creation: the first holder of a non-finite gradient got
    # it from the backward of one of its consumers (whose own gradients are all finite).
    holders = [r for r, _ in reversed(evaluation.steps) if isinstance(r, Tensor)]
    holders += list(evaluation.inputs.values())
    for holder in holders:
        grad = holder.grad
        count = _nonfinite(raw(grad)) if grad is not None else 0
        if count:
            key = holder.node if holder.node is not None else holder
            makers = [where for result, where in evaluation.steps if isinstance(result, Tensor)
                      and result.node is not None
                      and any(p is key for p in result.node.parents)]
            made_by = f" by the backward of {makers[0]}" if makers else ""
            owner = next((where for r, where in evaluation.steps if r is holder),
                         f"input '{holder.name}'")
            return holder, (f"the gradient of {owner.removeprefix('op ')} holds {count} NaN/Inf "
                            f"value(s), made{made_by}")
    return None


def _nonfinite(array: Any) -> int:
    array = np.asarray(array)
    return int(array.size - np.count_nonzero(np.isfinite(array))) if array.dtype.kind == "f" \
        else 0
