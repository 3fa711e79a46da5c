"""Products with NumPy's names and signatures: dot, vdot, inner, outer, tensordot, einsum, kron,
cross. Each forward is NumPy's own; each VJP is an einsum with the subscripts permuted.

Every product is multilinear, so one rule serves all: if ``out = einsum("S₁,S₂,…->O", x₁, x₂,
…)``, then the gradient of ``xₖ`` is ``einsum("O,S₁,…(without Sₖ)->Sₖ", g, …)``, with three
repairs that :func:`einsum_gradient` makes: an index repeated inside ``Sₖ`` (a diagonal, as in
``"ii->i"``) gets a fresh name tied to the original one by an identity matrix; an index of
``Sₖ`` found nowhere else (summed away, as ``j`` in ``"ij->i"``) gets a vector of ones; and
an axis of ``xₖ`` of size 1 that broadcast against a longer one is summed and kept as size 1.
The JVP of a multilinear op is the sum over inputs of the op with that input's tangent in its
place.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from autograd_lite.engine import unbroadcast
from autograd_lite.errors import InputValueError, ShapeError, SignatureError
from autograd_lite.explain import Context, Latex, product
from autograd_lite.ops import check_axis, matmul
from autograd_lite.registry import register_op
from autograd_lite.shapes import moveaxis, real_input, register
from autograd_lite.tensor import raw

FAMILY = "products"
_LETTERS = string.ascii_letters
# Above this many elements in an operand, gradient einsums let NumPy choose a contraction
# order (and BLAS); below it the plain loop has the smaller fixed cost.
_OPTIMIZE_FROM = 4096


def bilinear(name: str, math: str, forward: Any, *vjps: Any, **options: Any) -> Any:
    """Register a two-input op that is linear in each input: its JVP is op(ṫa, b) + op(a, ṫb),
    with the same settings."""
    def jvp_a(t: Any, out: Any, a: Any, b: Any, **settings: Any) -> Any:
        return op(t, b, **settings)

    def jvp_b(t: Any, out: Any, a: Any, b: Any, **settings: Any) -> Any:
        return op(a, t, **settings)

    op = register(name, math, forward, *vjps, jvp=(jvp_a, jvp_b), **options)
    return op


# ----------------------------------------------------------------------------------- einsum
def parse_subscripts(subscripts: str, shapes: list[tuple[int, ...]]
                     ) -> tuple[list[str], str]:
    """Explicit subscripts for einsum: one string of letters per operand and the output's,
    with each ``...`` replaced by letters of its own (right-aligned across operands, as NumPy
    broadcasts them) and an implicit output made explicit (the broadcast axes, then the
    indices that appear once, in alphabetical order)."""
    if not isinstance(subscripts, str):
        raise SignatureError("einsum: give the subscripts as a string (einsum('ij,jk->ik', a, "
                             "b)); the interleaved form einsum(a, [0, 1], b, [1, 2]) is not "
                             "supported")
    text = subscripts.replace(" ", "")
    inputs, arrow, output = text.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise InputValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s) "
                              f"but {len(shapes)} were given")
    for term in [*terms, output]:
        if any(c not in _LETTERS for c in term.replace("...", "")):
            raise InputValueError(f"einsum: subscripts {subscripts!r} may hold only letters, "
                                  "',', '->' and '...'")
    spare = [c for c in _LETTERS if c not in text]
    ellipsis_ndims = []
    for term, shape in zip(terms, shapes):
        named = len(term.replace("...", ""))
        if "..." in term:
            ellipsis_ndims.append(len(shape) - named)
        elif named != len(shape):
            raise ShapeError(f"einsum: term {term!r} names {named} axes but its operand has "
                             f"shape {shape}")
    width = max([0, *ellipsis_ndims])
    if width > len(spare) or min([0, *ellipsis_ndims]) < 0:
        raise ShapeError(f"einsum: the operands' shapes {shapes} do not fit {subscripts!r}")
    broadcast = "".join(spare[:width])
    terms = [t.replace("...", broadcast[width - (len(s) - len(t.replace('...', ''))):])
             if "..." in t else t for t, s in zip(terms, shapes)]
    if arrow:
        output = output.replace("...", broadcast)
    else:
        counts = "".join(terms)
        output = broadcast + "".join(sorted(c for c in set(counts)
                                            if counts.count(c) == 1 and c not in broadcast))
    return terms, output


def _sizes(terms: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            sizes[c] = max(sizes.get(c, 1), n)
    return sizes


def einsum_gradient(terms: list[str], output: str, k: int, g: Any, operands: list[Any]) -> Any:
    """The gradient of operand ``k`` of ``einsum(",".join(terms) + "->" + output, *operands)``
    for output gradient ``g``, as one einsum (see the module docstring)."""
    shapes = [tuple(np.shape(raw(x))) for x in operands]
    sizes = _sizes(terms, shapes)
    dtype = np.result_type(raw(g))
    spare = [c for c in _LETTERS if c not in "".join(terms) + output]
    target, ties, seen, kept_shape = [], [], set(), []
    for c, n in zip(terms[k], shapes[k]):
        if c in seen:  # a repeated index: a fresh name, tied to c by an identity matrix
            fresh = spare.pop()
            ties.append((c, fresh))
            target.append(fresh)
            kept_shape.append(n)
        elif n == 1 and sizes[c] > 1:  # broadcast: summed, and put back as size 1 below
            seen.add(c)
        else:
            seen.add(c)
            target.append(c)
            kept_shape.append(n)
    others = [(terms[j], operands[j]) for j in range(len(operands)) if j != k]
    present = set(output).union(*(t for t, _ in others), *(c + f for c, f in ties))
    extra_terms = [c + f for c, f in ties] + [c for c in dict.fromkeys(target)
                                              if c not in present]
    extra = [np.eye(sizes[c], dtype=dtype) for c, _ in ties] + [
        np.ones(sizes[c], dtype=dtype) for c in dict.fromkeys(target) if c not in present]
    formula = ",".join([output, *(t for t, _ in others), *extra_terms]) + "->" + "".join(target)
    arrays = [g, *(x for _, x in others), *extra]
    big = max(int(np.prod(s)) for s in [np.shape(raw(g)), *shapes]) >= _OPTIMIZE_FROM
    grad = einsum(formula, *arrays, optimize=big) if big else einsum(formula, *arrays)
    return grad if tuple(kept_shape) == shapes[k] else grad.reshape(shapes[k])


def _einsum(subscripts: str, *operands: np.ndarray, optimize: Any = False) -> np.ndarray:
    """Σ over the indices not in the output of the product of the operands (np.einsum)."""
    if not isinstance(subscripts, str):
        parse_subscripts(subscripts, [])  # refuses the interleaved form
    operands = tuple(real_input("einsum", x) for x in operands)
    return np.einsum(subscripts, *operands, optimize=optimize)


def _einsum_vjp(g: Any, out: Any, subscripts: str, *operands: Any,
                optimize: Any = False) -> tuple[Any, ...]:
    terms, output = parse_subscripts(subscripts, [np.shape(raw(x)) for x in operands])
    return (None, *(einsum_gradient(terms, output, k, g, list(operands))
                    if np.result_type(raw(x)).kind == "f" else None
                    for k, x in enumerate(operands)))


def _einsum_jvp(tangents: tuple[Any, ...], out: Any, subscripts: str, *operands: Any,
                optimize: Any = False) -> Any:
    total = None
    for k, t in enumerate(tangents[1:]):
        if t is not None:
            term = einsum(subscripts, *operands[:k], t, *operands[k + 1:], optimize=optimize)
            total = term if total is None else total + term
    return total


einsum = register_op(  # variadic: one VJP for all operands
    "einsum", _einsum, _einsum_vjp, jvp=_einsum_jvp, builtin=True, family=FAMILY,
    doc="Σ over the summed indices of Π operands  ·  operand k: einsum of g with the others, "
        "subscripts permuted (repeated indices via identities)")


# --------------------------------------------------------------- products as einsum formulas
def _tensordot_terms(ndim_a: int, ndim_b: int, axes: Any) -> tuple[list[str], str]:
    """tensordot as einsum: the contracted axes of a and b share letters; the output is a's
    free axes then b's."""
    if isinstance(axes, (int, np.integer)):
        n = int(axes)
        axes_a, axes_b = list(range(ndim_a - n, ndim_a)), list(range(n))
    else:
        axes_a, axes_b = axes
        axes_a = [axes_a] if isinstance(axes_a, (int, np.integer)) else list(axes_a)
        axes_b = [axes_b] if isinstance(axes_b, (int, np.integer)) else list(axes_b)
    if len(axes_a) != len(axes_b):
        raise ShapeError(f"tensordot: axes {axes!r} pair {len(axes_a)} axes of a with "
                         f"{len(axes_b)} of b")
    axes_a = [check_axis(int(d), ndim_a, "tensordot") for d in axes_a]
    axes_b = [check_axis(int(d), ndim_b, "tensordot") for d in axes_b]
    term_a = _LETTERS[:ndim_a]
    free_b = iter(_LETTERS[ndim_a:ndim_a + ndim_b])
    term_b = "".join(term_a[axes_a[axes_b.index(d)]] if d in axes_b else next(free_b)
                     for d in range(ndim_b))
    output = "".join(c for d, c in enumerate(term_a) if d not in axes_a) + "".join(
        c for d, c in enumerate(term_b) if d not in axes_b)
    return [term_a, term_b], output


def _dot_terms(ndim_a: int, ndim_b: int) -> tuple[list[str], str]:
    """np.dot as einsum: scalars multiply; otherwise a's last axis meets b's second-to-last
    (its only axis if 1-D)."""
    if ndim_a == 0 or ndim_b == 0:
        term_a, term_b = _LETTERS[:ndim_a], _LETTERS[ndim_a:ndim_a + ndim_b]
        return [term_a, term_b], term_a + term_b
    return _tensordot_terms(ndim_a, ndim_b, ([ndim_a - 1], [max(ndim_b - 2, 0)]))


def _inner_terms(ndim_a: int, ndim_b: int) -> tuple[list[str], str]:
    """np.inner as einsum: the last axes meet (scalars multiply)."""
    if ndim_a == 0 or ndim_b == 0:
        return _dot_terms(ndim_a, ndim_b)
    return _tensordot_terms(ndim_a, ndim_b, ([ndim_a - 1], [ndim_b - 1]))


def _by_formula(terms_of: Any) -> tuple[Any, Any]:
    """The two VJPs of a bilinear product whose einsum formula ``terms_of(a.ndim, b.ndim,
    **settings)`` gives."""
    def grad(k: int) -> Any:
        def vjp(g: Any, out: Any, a: Any, b: Any, **settings: Any) -> Any:
            terms, output = terms_of(np.ndim(raw(a)), np.ndim(raw(b)), **settings)
            return einsum_gradient(terms, output, k, g, [a, b])
        return vjp
    return grad(0), grad(1)


def _real(numpy_fn: Any, name: str) -> Any:
    def forward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return numpy_fn(real_input(name, a), real_input(name, b))
    forward.__doc__ = numpy_fn.__doc__
    return forward


def _dot_grads() -> tuple[Any, Any]:
    """For vectors and matrices np.dot is np.matmul, whose VJPs (BLAS products) serve; other
    shapes go through the einsum formula."""
    by_formula = _by_formula(_dot_terms)

    def grad(k: int) -> Any:
        def vjp(g: Any, out: Any, a: Any, b: Any) -> Any:
            if np.ndim(raw(a)) in (1, 2) and np.ndim(raw(b)) in (1, 2):
                return matmul.vjps[k](g, out, a, b)
            return by_formula[k](g, out, a, b)
        return vjp
    return grad(0), grad(1)


dot = bilinear("dot", "Σⱼ a[…, j] b[…, j, :] (np.dot)  ·  einsum of g with the other operand",
               _real(np.dot, "dot"), *_dot_grads(), saves="inputs", family=FAMILY,
               latex=product("a", "b"))


def _vectors(ctx: Context) -> bool:
    return ctx.ndim("a") == 1 and ctx.ndim("b") == 1


# np.inner and np.outer of two vectors (rows): a bᵀ and aᵀ b.
INNER = Latex(lambda c: "$a $b^\\top" if _vectors(c) else None,
              lambda c: "$g $b" if _vectors(c) else None,
              lambda c: "$g $a" if _vectors(c) else None)
OUTER = Latex(lambda c: "$a^\\top $b" if _vectors(c) else None,
              lambda c: "$b $g^\\top" if _vectors(c) else None,
              lambda c: "$a $g" if _vectors(c) else None)


inner = bilinear("inner", "Σⱼ a[…, j] b[…, j] over the last axes  ·  einsum of g with the "
                 "other operand", _real(np.inner, "inner"), *_by_formula(_inner_terms),
                 saves="inputs", family=FAMILY, latex=INNER)


def _tensordot(a: np.ndarray, b: np.ndarray, axes: Any = 2) -> np.ndarray:
    """Σ over the paired axes of a ⊗ b (np.tensordot)."""
    return np.tensordot(real_input("tensordot", a), real_input("tensordot", b), axes)


tensordot = bilinear("tensordot", "Σ over paired axes of a ⊗ b  ·  einsum of g with the other "
                     "operand", _tensordot,
                     *_by_formula(lambda na, nb, axes=2: _tensordot_terms(na, nb, axes)),
                     saves="inputs", family=FAMILY)


def _check_vdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Σ aᵢ bᵢ over the flattened arrays (np.vdot)."""
    a, b = real_input("vdot", a), real_input("vdot", b)
    if a.size != b.size:
        raise ShapeError(f"vdot: the arrays hold {a.size} and {b.size} elements; vdot needs "
                         "the same number (it flattens both)")
    return np.vdot(a, b)


vdot = bilinear("vdot", "Σ aᵢ bᵢ over the flattened arrays  ·  g·b, g·a (in each shape)",
                _check_vdot, lambda g, out, a, b: g * b.reshape(a.shape),
                lambda g, out, a, b: g * a.reshape(b.shape), saves="inputs", family=FAMILY)
outer = bilinear("outer", "a_i b_j of the flattened arrays  ·  g b̃ and g̃ᵀ a (in each shape)",
                 _real(np.outer, "outer"),
                 lambda g, out, a, b: matmul(g, b.reshape(-1)).reshape(a.shape),
                 lambda g, out, a, b: matmul(a.reshape(-1), g).reshape(b.shape),
                 saves="inputs", family=FAMILY, latex=OUTER)


def _kron_layout(a: Any, b: Any) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Both shapes padded to the same number of axes, and the output viewed as (a₀, b₀, a₁,
    b₁, …)."""
    d = max(np.ndim(raw(a)), np.ndim(raw(b)))
    sa = (1,) * (d - np.ndim(raw(a))) + tuple(np.shape(raw(a)))
    sb = (1,) * (d - np.ndim(raw(b))) + tuple(np.shape(raw(b)))
    return sa, sb, tuple(n for pair in zip(sa, sb) for n in pair)


def _kron_grad(k: int) -> Any:
    def vjp(g: Any, out: Any, a: Any, b: Any) -> Any:
        """out viewed as (a₀, b₀, a₁, b₁, …) is the outer product of a and b."""
        sa, sb, interleaved = _kron_layout(a, b)
        d = len(sa)
        terms = [_LETTERS[:d], _LETTERS[d:2 * d]]
        output = "".join(x + y for x, y in zip(*terms))
        grad = einsum_gradient(terms, output, k, g.reshape(interleaved),
                               [a.reshape(sa), b.reshape(sb)])
        return grad.reshape((a, b)[k].shape)
    return vjp


kron = bilinear("kron", "the Kronecker product a ⊗ b (blocks a_ij·b)  ·  g viewed as "
                "(a₀, b₀, a₁, b₁, …) contracted with the other operand",
                _real(np.kron, "kron"), _kron_grad(0), _kron_grad(1), saves="inputs",
                family=FAMILY)


def _cross_axes(axisa: int, axisb: int, axisc: int, axis: Any) -> tuple[int, int, int]:
    return (axis, axis, axis) if axis is not None else (axisa, axisb, axisc)


def _cross(a: np.ndarray, b: np.ndarray, axisa: int = -1, axisb: int = -1, axisc: int = -1,
           axis: Any = None) -> np.ndarray:
    """a × b of 3-vectors along the given axes (np.cross)."""
    a, b = real_input("cross", a), real_input("cross", b)
    axisa, axisb, _ = _cross_axes(axisa, axisb, axisc, axis)
    for name, x, ax in (("a", a, axisa), ("b", b, axisb)):
        if x.ndim == 0 or x.shape[check_axis(ax, x.ndim, "cross")] != 3:
            raise ShapeError(f"cross: {name} of shape {x.shape} needs 3 components along axis "
                             f"{ax} (2-vectors, deprecated by NumPy, are not supported: add a "
                             "zero third component)")
    return np.cross(a, b, axisa, axisb, axisc, axis)


def _cross_grad(k: int) -> Any:
    def vjp(g: Any, out: Any, a: Any, b: Any, axisa: int = -1, axisb: int = -1,
            axisc: int = -1, axis: Any = None) -> Any:
        """⟨g, a × b⟩ = ⟨a, b × g⟩ = ⟨b, g × a⟩."""
        axisa, axisb, axisc = _cross_axes(axisa, axisb, axisc, axis)
        va, vb = moveaxis(a, axisa, -1), moveaxis(b, axisb, -1)
        vg = moveaxis(g, axisc, -1)
        grad = cross(vb, vg) if k == 0 else cross(vg, va)
        mine, ax = (va, axisa) if k == 0 else (vb, axisb)
        return moveaxis(unbroadcast(grad, mine.shape), -1, ax)
    return vjp


cross = bilinear("cross", "a × b of 3-vectors  ·  b × g, g × a", _cross, _cross_grad(0),
                 _cross_grad(1), saves="inputs", family=FAMILY)

__all__ = ["cross", "dot", "einsum", "inner", "kron", "outer", "tensordot", "vdot"]
