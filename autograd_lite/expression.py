"""Expressions for ``autograd-lite graph``: parsed with :mod:`ast`, checked against a whitelist,
and interpreted node by node. Nothing is ever passed to ``eval``, ``exec`` or ``compile``.

Allowed: input names, numbers, ``+ - * / @ **`` and unary ``-``/``+``, calls of registered ops
with positional arguments and constant keyword arguments (``axis=1``, ``reduction="sum"``),
``.T``, and indexing with integers, slices and integer inputs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd_lite import ops
from autograd_lite.errors import AutogradLiteError, ExpressionError
from autograd_lite.registry import get_op, list_ops
from autograd_lite.tensor import Tensor

ALLOWED = ("input names, numbers, + - * / @ ** and unary -, calls of registered ops "
           "(e.g. sigmoid(x), sum(x, axis=1)) with constant keyword arguments, .T, and indexing "
           "with integers, slices or integer inputs")

BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: ops.add, ast.Sub: ops.sub, ast.Mult: ops.mul, ast.Div: ops.div,
    ast.MatMult: ops.matmul, ast.Pow: ops.pow,
}


def _refuse(node: ast.AST, why: str) -> ExpressionError:
    where = f" (column {node.col_offset + 1})" if hasattr(node, "col_offset") else ""
    return ExpressionError(f"{why}{where}. Allowed: {ALLOWED}.")


def parse(expression: str) -> ast.Expression:
    """Parse and check ``expression`` against the whitelist; raise ExpressionError otherwise."""
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {expression!r}: {exc.msg}. Allowed: {ALLOWED}.") \
            from None
    _check(tree.body)
    return tree


def _constant(node: ast.AST) -> bool:
    """A keyword argument value: a number, a string, None, or a tuple of numbers."""
    if isinstance(node, ast.Constant):
        return node.value is None or type(node.value) in (int, float, str, bool)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return isinstance(node.operand, ast.Constant) and type(node.operand.value) in (int, float)
    if isinstance(node, ast.Tuple):
        return all(_constant(e) for e in node.elts)
    return False


def _check(node: ast.AST) -> None:
    if isinstance(node, ast.BinOp):
        if type(node.op) not in BINARY:
            raise _refuse(node, f"operator {type(node.op).__name__} is not allowed")
        _check(node.left)
        _check(node.right)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise _refuse(node, f"operator {type(node.op).__name__} is not allowed")
        _check(node.operand)
    elif isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            raise _refuse(node, f"constant {node.value!r} is not a number")
    elif isinstance(node, ast.Name):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", node.id):
            raise _refuse(node, f"name '{node.id}' is not allowed (names start with a letter)")
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in list_ops():
            called = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise _refuse(node, f"'{called}' is not a registered op (ops: "
                                f"{', '.join(list_ops())})")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise _refuse(arg, "*arguments are not allowed")
            _check(arg)
        for keyword in node.keywords:
            if keyword.arg is None or not _constant(keyword.value):
                raise _refuse(node, "keyword arguments must be name=constant")
    elif isinstance(node, ast.Attribute):
        if node.attr != "T":
            raise _refuse(node, f"attribute '.{node.attr}' is not allowed (only .T)")
        _check(node.value)
    elif isinstance(node, ast.Subscript):
        _check(node.value)
        _check_index(node.slice)
    else:
        raise _refuse(node, f"{type(node).__name__} is not allowed")


def _check_index(node: ast.AST) -> None:
    if isinstance(node, ast.Tuple):
        for element in node.elts:
            _check_index(element)
    elif isinstance(node, ast.Slice):
        for part in (node.lower, node.upper, node.step):
            if part is not None and not _constant(part):
                raise _refuse(node, "slice bounds must be integers")
    elif isinstance(node, ast.Name):
        _check(node)
    elif not (_constant(node) and not isinstance(node, ast.Tuple)):
        raise _refuse(node, "indices must be integers, slices or integer inputs")


@dataclass
class InputSpec:
    """``NAME=SHAPE`` (random normal floats) or ``NAME=SHAPE:int[:N]`` (integer labels in
    [0, N); without N, the number of classes of the cross-entropy that uses them)."""

    name: str
    shape: tuple[int, ...]
    integer: bool = False
    classes: int | None = None

    @classmethod
    def parse(cls, text: str) -> InputSpec:
        match = re.fullmatch(r"([A-Za-z][A-Za-z0-9_]*)=([0-9x]*|scalar)(?::int(?::([0-9]+))?)?",
                             text.strip())
        if match is None:
            raise ExpressionError(
                f"--input {text!r}: expected NAME=SHAPE (e.g. x=20x10, b=5, c=scalar) or "
                "NAME=SHAPE:int[:N] for integer labels (e.g. y=20:int:10)")
        name, shape_text, classes = match.group(1), match.group(2), match.group(3)
        shape = () if shape_text in ("", "scalar") else tuple(
            int(n) for n in shape_text.split("x") if n)
        return cls(name, shape, ":int" in text, int(classes) if classes else None)


class Evaluator:
    """Interprets a checked expression tree on tensors made from input specs."""

    def __init__(self, specs: Mapping[str, InputSpec], seed: int = 0) -> None:
        self.specs = dict(specs)
        self.rng = np.random.default_rng(seed)
        self.tensors: dict[str, Tensor] = {}

    def input(self, name: str, classes: int | None = None) -> Tensor:
        if name in self.tensors:
            return self.tensors[name]
        spec = self.specs.get(name)
        if spec is None:
            raise ExpressionError(f"'{name}' has no --input; give --input {name}=SHAPE "
                                  f"(inputs given: {', '.join(self.specs) or 'none'})")
        if spec.integer:
            bound = spec.classes or classes
            if bound is None:
                raise ExpressionError(f"--input {name}: say how many classes the labels range "
                                      f"over ({name}=SHAPE:int:N), or use {name} as the target "
                                      "of softmax_cross_entropy")
            tensor = Tensor(self.rng.integers(0, bound, size=spec.shape), name=name)
        else:
            tensor = Tensor(self.rng.standard_normal(spec.shape), requires_grad=True, name=name)
        self.tensors[name] = tensor
        return tensor

    def evaluate(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return self.evaluate(node.body)
        if isinstance(node, ast.BinOp):
            return BINARY[type(node.op)](self.evaluate(node.left), self.evaluate(node.right))
        if isinstance(node, ast.UnaryOp):
            value = self.evaluate(node.operand)
            return ops.neg(value) if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return self.input(node.id)
        if isinstance(node, ast.Attribute):
            return ops.transpose(self.evaluate(node.value))
        if isinstance(node, ast.Subscript):
            return ops.getitem(self.evaluate(node.value),
                               index=ops.normalize_index(self._index(node.slice)))
        if isinstance(node, ast.Call):
            return self._call(node)
        raise _refuse(node, f"{type(node).__name__} is not allowed")  # unreachable after parse

    def _index(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Tuple):
            return tuple(self._index(e) for e in node.elts)
        if isinstance(node, ast.Slice):
            return slice(*(None if p is None else ast.literal_eval(p)
                           for p in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Name):
            return self.input(node.id).data
        return ast.literal_eval(node)

    def _call(self, node: ast.Call) -> Any:
        op = get_op(node.func.id)  # type: ignore[attr-defined]
        kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
        if op.name == "softmax_cross_entropy" and len(node.args) == 2 \
                and isinstance(node.args[1], ast.Name):
            logits = self.evaluate(node.args[0])
            axis = kwargs.get("axis", -1)
            target = self.input(node.args[1].id, classes=logits.shape[axis])
            return op(logits, target, **kwargs)
        return op(*(self.evaluate(a) for a in node.args), **kwargs)


def build(expression: str, specs: Mapping[str, InputSpec], seed: int = 0
          ) -> tuple[Tensor, dict[str, Tensor]]:
    """Parse, check and evaluate ``expression`` on seeded random inputs."""
    tree = parse(expression)
    evaluator = Evaluator(specs, seed)
    try:
        result = evaluator.evaluate(tree)
    except ExpressionError:
        raise
    except AutogradLiteError as exc:
        raise ExpressionError(f"evaluating {expression!r}: {exc}") from None
    if not isinstance(result, Tensor):
        raise ExpressionError(f"{expression!r} does not use any input")
    return result, evaluator.tensors
