"""``al.explain(loss)``: the backward pass of a scalar, written as a chain-rule derivation.

Each op carries a :class:`Latex` template beside its forward, VJP and JVP (``register_op(...,
latex=Latex(forward, *gradients))``). The explanation walks the tape of ``loss`` and writes

* a declaration for every input (``W_1 \\in \\mathbb{R}^{10 \\times 5}``),
* a definition for every recorded op (``z_1 = a_1 + b_1``), named after the tensor's ``.name``
  (``z1`` is written ``z_1``, ``theta`` ``\\theta``) or ``a_1``, ``a_2``, … when it has none,
* one step per gradient the tape forms, newest node first (``\\delta_{z_1} = \\frac{\\partial
  J}{\\partial z_1} = \\delta_h \\circ \\sigma(z_1) \\circ (1 - \\sigma(z_1))``), with its shape,

in the row-vector convention (a 1-D array is a row). Exact simplifications only: the seed
∂J/∂J = 1 and every gradient that is a constant (``-1`` under a negation, ``\\frac{1}{20}`` from a
mean) are folded into the steps that use them, and the sum that undoes a broadcast is written as
a sum over rows (``\\mathbf{1}^\\top \\delta``), over columns (``\\delta \\mathbf{1}``) or over all
elements (``\\sum \\delta``).

The result is Markdown that the writeup checker reads (``autograd-lite verify``): every step is
checked against the tape and finite differences. An op without a template, or a case its template
cannot write (a slice, a sum over a middle axis, three axes), gets the generic step
``\\mathrm{VJP}_{\\mathrm{op}}(\\delta)``, which the checker lists as not checked; its output is
declared as an input of the writeup, so the steps after it are still checked.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from string import Template
from typing import Any

import numpy as np

from autograd_lite.errors import AutogradLiteError, GraphError, ShapeError
from autograd_lite.tensor import Node, Tensor

Piece = str | Callable[["Context"], str | None] | None
MAX_OPS = 1_000  # recorded ops in one explanation
# names the writeup language reads as something else (σ and e^x, δ and ∂ of the steps, d/dx)
RESERVED = frozenset({"e", "d", "sigma", "delta", "Delta", "partial", "pi", "nabla"})

GREEK = frozenset({
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "pi", "rho", "sigma", "tau", "upsilon", "phi", "chi", "psi",
    "omega", "Gamma", "Delta", "Theta", "Lambda", "Xi", "Pi", "Sigma", "Phi", "Psi", "Omega"})


class Latex:
    """How an op's step is written: its forward and one gradient per input, as LaTeX templates.

    A template is a string with ``$x``-style placeholders (``string.Template``) for the op's
    inputs by their names in the forward's signature, ``$g`` for the gradient of the output and
    ``$out`` for the output's symbol, e.g. ``Latex("$x \\circ $y", "$g \\circ $y",
    "$g \\circ $x", elementwise=True)``; or a function of a :class:`Context` returning such a
    string for the op's settings and shapes, or None where it cannot be written.
    ``elementwise=True``: the gradients have the broadcast shape of the output, and the
    explanation adds the sums that undo the broadcast. None for an input: its step is generic.
    """

    __slots__ = ("elementwise", "forward", "gradients")

    def __init__(self, forward: Piece, *gradients: Piece, elementwise: bool = False) -> None:
        self.forward = forward
        self.gradients = gradients
        self.elementwise = elementwise


@dataclass
class Context:
    """What a template function sees: the LaTeX of each input (``ctx["x"]``, an atom: a symbol
    or a number), of the output's gradient (``ctx.g``) and symbol (``ctx.out``), the op's
    settings and every shape."""

    atoms: dict[str, str]
    settings: dict[str, Any]
    shapes: dict[str, tuple[int, ...]]
    out_shape: tuple[int, ...]
    declare: Callable[[tuple[int, ...], bool], str] | None = None
    made: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)  # inputs that are data, not nodes

    def one_hot(self, key: str, shape: tuple[int, ...]) -> str | None:
        """A constant of one-hot rows of ``shape`` (declared ``\\in \\{0,1\\}^{…}``), the
        same symbol for the same ``key`` within one op's step (its forward and gradients)."""
        if key not in self.made:
            if self.declare is None:
                return None
            self.made[key] = self.declare(shape, False)
        return self.made[key]

    def ones(self, n: int) -> str | None:
        """A column of ``n`` ones, written as the constant of one-hot rows of width one (the
        checker's ``\\mathbf{1}`` takes its size from the product, which a column beside a row
        leaves open)."""
        return None if self.declare is None else self.declare((n, 1), True)

    def __getitem__(self, name: str) -> str:
        return self.atoms[name]

    @property
    def g(self) -> str:
        return self.atoms["g"]

    @property
    def out(self) -> str:
        return self.atoms["out"]

    def ndim(self, name: str) -> int:
        return len(self.shapes[name])


@dataclass
class Step:
    """One gradient the tape forms: ``symbol`` (the LaTeX of what is differentiated), ``latex``
    (the whole display), ``ops`` (the ops whose VJPs form it), ``checkable``
    (False: generic, the checker lists it as not checked), ``tensor`` (the leaf, or a tensor
    standing for the intermediate, for ``al.grad``), ``shape``."""

    symbol: str
    latex: str
    ops: tuple[str, ...]
    checkable: bool
    tensor: Tensor
    shape: tuple[int, ...]
    leaf: bool


@dataclass
class Explanation:
    """The derivation of a backward pass. ``markdown`` is the writeup (``str(explanation)`` too);
    ``declarations`` and ``forward`` list its displays, ``steps`` the gradients, ``symbols``
    maps each tensor's name to its LaTeX; :meth:`verify` checks it with the writeup checker."""

    markdown: str
    declarations: list[str]
    forward: list[str]
    steps: list[Step]
    symbols: dict[str, str] = field(default_factory=dict)
    #: The same backward pass as NumPy code (the source ``al.compile`` generates), for an
    #: explanation of a derivation (:func:`explain_derivation`); None otherwise, or when the loss
    #: cannot be compiled (``code_note`` says why).
    code: str | None = None
    code_note: str | None = None

    def __str__(self) -> str:
        return self.markdown

    def _repr_markdown_(self) -> str:
        return self.markdown

    def verify(self, seed: int = 0) -> Any:
        """Check every line with the writeup checker (``check_writeup``): its report."""
        from autograd_lite.writeup import check_writeup

        return check_writeup(self.markdown, seed=seed, convention="row")


# ------------------------------------------------------------------------------ formatting
def number(value: float) -> str:
    """A constant as LaTeX that reads back to the same float: ``2``, ``-1``, ``\\frac{1}{20}``,
    ``0.3`` (in parentheses when negative, so it can stand anywhere)."""
    value = float(value)
    if not np.isfinite(value):
        raise ValueError("not finite")
    sign, size = ("-" if value < 0 else ""), abs(value)
    if size == int(size) and size < 1e15:
        text = str(int(size))
    elif size < 1 and 1 / size == round(1 / size) and 1.0 / round(1 / size) == size:
        text = f"\\frac{{1}}{{{round(1 / size)}}}"
    else:
        text = repr(size)
    return f"(-{text})" if sign else text


def symbol_of(name: str) -> str | None:
    """A tensor's name as a symbol of the writeup language, or None: ``z1`` → ``z_1``, ``W_2``
    → ``W_2``, ``theta`` → ``\\theta``, ``v_c`` → ``v_c``, ``y_hat`` → ``\\hat{y}``."""
    if name in RESERVED:
        return None
    if name in GREEK:
        return "\\" + name
    match = re.fullmatch(r"([A-Za-z]+?)_?(hat)?_?([A-Za-z0-9]*)", name)
    if match is None:
        return None
    base, hat, sub = match.groups()
    if base in GREEK:
        base = "\\" + base
    elif len(base) != 1:
        return None
    if hat:
        base = f"\\hat{{{base}}}"
    if not sub:
        return base
    if len(sub) > 1 and not sub.isdigit() and sub not in GREEK:
        return None
    return _subscripted(base, "\\" + sub if sub in GREEK else sub)


def _subscripted(base: str, sub: str) -> str:
    """``W_1``, ``a_{12}``, ``v_{\\theta}``."""
    return f"{base}_{sub}" if len(sub) == 1 else f"{base}_{{{sub}}}"


def shape_text(shape: tuple[int, ...]) -> str:
    """A shape in the row-vector convention: ``(20 \\times 5)``, a vector ``(1 \\times 5)``."""
    if not shape:
        return "(1 \\times 1)"
    view = (1, *shape) if len(shape) == 1 else shape
    return "(" + " \\times ".join(map(str, view)) + ")"


def declaration(symbol: str, shape: tuple[int, ...], one_hot: bool = False) -> str:
    """``W_1 \\in \\mathbb{R}^{10 \\times 5}``; labels of one-hot rows in ``\\{0,1\\}^{…}``."""
    field_ = "\\{0,1\\}" if one_hot else "\\mathbb{R}"
    space = field_ if not shape else field_ + "^{" + " \\times ".join(map(str, shape)) + "}"
    return f"{symbol} \\in {space}"


def _row_view(shape: tuple[int, ...]) -> tuple[int, ...] | None:
    if len(shape) == 1:
        return (1, shape[0])
    return shape if len(shape) <= 2 else None


def _grouped(text: str) -> str:
    """``text`` in parentheses unless it is one atom."""
    if re.fullmatch(r"\\?[A-Za-z]+(_\{[^{}]*\}|_[A-Za-z0-9])?|\\hat\{[A-Za-z]\}(_\{[^{}]*\})?"
                    r"|\\delta_\{[^ ]*\}|\d+(\.\d+)?|\([^()]*\)", text):
        return text
    return f"({text})"


def unbroadcast(text: str, grad_shape: tuple[int, ...], shape: tuple[int, ...]) -> str | None:
    """The sum that gives a gradient of ``grad_shape`` the shape ``shape`` of its input (as the
    engine's ``unbroadcast``), or None where the row-vector convention cannot write it."""
    if grad_shape == shape:
        return text
    into, wide = _row_view(shape), _row_view(grad_shape)
    if not shape and grad_shape:
        return f"\\sum {_grouped(text)}"
    if into is None or wide is None:
        return None
    if into == wide:
        return text
    if into[0] == 1 and into[1] == wide[1]:
        return f"\\mathbf{{1}}^\\top {_grouped(text)}"  # the sum over rows
    if into[1] == 1 and into[0] == wide[0]:
        return f"{_grouped(text)} \\mathbf{{1}}"  # the sum over columns
    if into == (1, 1):
        return f"\\sum {_grouped(text)}"
    return None


def _unwrapped(text: str) -> str:
    """``text`` without parentheses around the whole of it."""
    while text.startswith("(") and text.endswith(")"):
        depth = 0
        for i, char in enumerate(text):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and i < len(text) - 1:
                return text
        text = text[1:-1]
    return text


def _fill(piece: Piece, ctx: Context) -> str | None:
    if callable(piece):
        piece = piece(ctx)
    if piece is None:
        return None
    try:
        return Template(piece).substitute(ctx.atoms)
    except (KeyError, ValueError):
        return None


def _elementwise_in_g(piece: str) -> bool:
    """Whether ``$g`` enters the template only element-wise (``$g \\circ …``, ``… - $g``,
    ``\\frac{$g}{…}``, ``-$g``), so that a constant gradient may stand there as a number (a
    number broadcasts); in a matrix product (``$g W^\\top``, ``e $g``) it must stay the array
    it is. Each ``$g`` must have, on each side, an element-wise operator, a bracket or nothing."""
    for match in re.finditer(r"\$g\b", piece):
        before, after = piece[:match.start()], piece[match.end():]
        if not (before == "" or re.search(r"(\\circ |[-+] |\(|\{|^-)$", before)):
            return False
        if not (after == "" or re.match(r"( \\circ| [-+]|\)|\})", after)):
            return False
    return True


def _with_constant_gradient(piece: Piece, ctx: Context, value: float) -> str | None:
    """A template with the output's gradient a constant (the seed 1, a −1, a 1/N): a factor 1
    is dropped and a factor −1 becomes a sign. None where the constant cannot be folded (it
    enters a matrix product of a non-scalar output): the gradient's symbol is used there."""
    if callable(piece):
        piece = piece(ctx)
    if not isinstance(piece, str):
        return None
    if int(np.prod(ctx.out_shape)) != 1 and not _elementwise_in_g(piece):
        return None
    if value in (1.0, -1.0):
        stripped = piece.replace("$g \\circ ", "", 1) if piece.startswith("$g \\circ ") else \
            piece.replace(" \\circ $g", "") if piece.endswith(" \\circ $g") else \
            piece[3:] if piece.startswith("$g ") else None
        if stripped is not None and "$g" not in stripped:
            text = _fill(stripped, ctx)
            if text is None or value == 1.0:
                return None if text is None else _unwrapped(text)
            return f"-{_grouped(text)}"
    atoms = {**ctx.atoms, "g": number(value)}
    return _fill(piece, replace(ctx, atoms=atoms))


# ------------------------------------------------------------------------------ the walk
@dataclass
class _Entry:
    """A node or a leaf tensor on the tape, with its symbol."""

    key: Any  # Node or Tensor
    symbol: str
    shape: tuple[int, ...]
    tensor: Tensor
    leaf: bool
    delta: str | None = None  # the symbol (or constant) standing for its gradient
    constant: float | None = None
    connected: bool = False  # the writeup's J depends on it through written forwards
    # (op, LaTeX, written by its template: False for a generic step), one per consumer
    contributions: list[tuple[str, str, bool]] = field(default_factory=list)


def explain(loss: Tensor, name: str = "J") -> Explanation:
    """The backward pass of the scalar ``loss`` as a chain-rule derivation (see the module).

    ``loss`` must be a scalar tensor with history (computed from tensors that require grad);
    ``name`` is the loss's symbol (``J``). Returns an :class:`Explanation`; ``str()`` of it is
    Markdown with ``$$…$$`` displays, which ``autograd-lite verify`` checks line by line."""
    if not isinstance(loss, Tensor):
        raise GraphError(f"explain: the loss must be a Tensor, got {type(loss).__name__}; "
                         "compute it from al.Tensor(..., requires_grad=True) inputs")
    if loss.shape not in ((), (1,), (1, 1)):
        raise ShapeError(f"explain: the loss must be a scalar, got shape {loss.shape}; "
                         "reduce it first (e.g. .sum() or .mean())")
    root = loss._node
    if root is None:
        raise GraphError("explain: the loss has no recorded history (it is a leaf, or was "
                         "computed without grad or from inputs that do not require grad); "
                         "make the inputs al.Tensor(..., requires_grad=True)")
    nodes = _nodes(root)
    if len(nodes) > MAX_OPS:
        raise GraphError(f"explain: the loss was computed by {len(nodes):,} recorded ops; an "
                         f"explanation is written for at most {MAX_OPS:,} (a writeup is checked "
                         "up to 2,000 equations): explain a smaller loss, or smaller pieces")
    entries: dict[int, _Entry] = {}
    used: set[str] = {name}
    constants: list[tuple[str, tuple[int, ...]]] = []
    counters = {"a": 0, "c": 0, "e": 0, "x": 0}

    def fresh(letter: str) -> str:
        while True:
            counters[letter] += 1
            candidate = _subscripted(letter, str(counters[letter]))
            if candidate not in used:
                used.add(candidate)
                return candidate

    def named(label: str | None, letter: str) -> str:
        symbol = symbol_of(label) if label else None
        if symbol is None or symbol in used or symbol.split("_")[0] in ("J", "\\delta", "a", "c",
                                                                        "e"):
            return fresh(letter)
        used.add(symbol)
        return symbol

    # names: leaves first (in order of use), then the nodes
    for node in nodes:
        for parent in node.parents:
            if type(parent) is Tensor and id(parent) not in entries:
                entries[id(parent)] = _Entry(parent, named(parent.name, "x"), parent.shape,
                                             parent, leaf=True)
    for node in nodes:
        symbol = name if node is root else named(node.name, "a")
        entries[id(node)] = _Entry(node, symbol, node.shape,
                                   _node_tensor(node), leaf=False)

    one_hots: list[str] = []

    ones: dict[tuple[int, ...], str] = {}

    def declare_one_hot(shape: tuple[int, ...], shared: bool) -> str:
        if shared and shape in ones:
            return ones[shape]
        symbol = fresh("e")
        if shared:
            ones[shape] = symbol
        one_hots.append(declaration(symbol, shape, one_hot=True))
        return symbol

    def atom(parent: Any) -> str:
        if id(parent) in entries:
            return entries[id(parent)].symbol
        value = np.asarray(parent)
        if value.ndim == 0 and value.dtype.kind in "biuf" and np.isfinite(value):
            return number(float(value))
        symbol = fresh("c")
        entries[id(parent)] = _Entry(parent, symbol, value.shape, parent, leaf=True)
        constants.append((symbol, value.shape))
        return symbol

    # the forward: each op's definition, or (an op the language cannot write, or one the
    # checker would take for another node) its output declared as an input
    declarations = [declaration(entries[id(p)].symbol, entries[id(p)].shape,
                                one_hot=not p.requires_grad and p.ndim == 2
                                and one_hot_rows(p.data))
                    for p in _leaves(nodes)]
    texts: dict[int, str | None] = {}
    contexts: dict[int, Context] = {}
    for node in nodes:
        entry = entries[id(node)]
        ctx = _context(node, [atom(p) for p in node.parents], entry.symbol)
        ctx.declare = declare_one_hot
        contexts[id(node)] = ctx
        template = node.op.latex
        flat = all(len(shape) <= 2 for shape in (*ctx.shapes.values(), node.shape))
        # (the writeup language has scalars, vectors and matrices only)
        texts[id(node)] = _fill(template.forward, ctx) if template is not None and flat \
            else None
    for node in _merged(nodes, texts, entries):
        texts[id(node)] = None
    forward: list[str] = []
    cut_declarations: list[str] = []
    cuts: list[str] = []
    for node in nodes:
        entry, text = entries[id(node)], texts[id(node)]
        if text is None:
            cuts.append(node.op.name)
            cut_declarations.append(declaration(entry.symbol, node.shape))
        else:
            forward.append(f"{entry.symbol} = {text} \\quad {shape_text(node.shape)}")
    declarations += [declaration(symbol, shape) for symbol, shape in constants]
    written = {key: text is not None for key, text in texts.items()}

    # the backward, newest node first
    entries[id(root)].constant = 1.0
    entries[id(root)].connected = True
    steps: list[Step] = []
    for node in reversed(nodes):
        entry = entries[id(node)]
        if node is not root:
            step = _finish(entry, name)
            if step is None:
                continue
            steps.append(step)
        _propagate(node, entry, entries, contexts[id(node)], written[id(node)])
    for parent in _leaves(nodes):
        entry = entries[id(parent)]
        if type(parent) is Tensor and parent.requires_grad and entry.contributions:
            step = _finish(entry, name)
            if step is not None:
                steps.append(step)
    # (the constants of one-hot rows, and the columns of ones, are made by the steps too)
    declarations += [f"{d} \\quad \\text{{(ones)}}" if d.endswith("\\times 1}") else
                     f"{d} \\quad \\text{{(one-hot rows)}}" for d in one_hots]
    declarations += cut_declarations
    markdown = _markdown(name, declarations, forward, steps, cuts, entries, nodes, root)
    symbols = {(e.key.name or ""): e.symbol for e in entries.values()
               if isinstance(e.key, (Tensor, Node)) and getattr(e.key, "name", None)}
    return Explanation(markdown, declarations, forward, steps, symbols)


def explain_derivation(derivation: Any) -> Explanation:
    """The explanation of a :class:`~autograd_lite.verify.Derivation`'s loss, built as the
    verifier builds it: its inputs (seeded), each named, those with a gradient, Hessian or
    Hessian-vector-product formula requiring grad."""
    from autograd_lite.verify import _guarded

    arrays = derivation.make_inputs()
    targets = {*(derivation.gradients or {}), *(derivation.hessians or {}),
               *(derivation.hvps or {})}
    tensors = {k: Tensor(v.copy(), requires_grad=v.dtype.kind == "f" and k in targets, name=k)
               for k, v in arrays.items()}
    loss = _guarded(derivation.loss, tensors, derivation.seed,
                    f"Derivation '{derivation.name}': loss")
    explanation = explain(loss)
    explanation.code, explanation.code_note = _compiled_code(derivation, arrays, targets)
    return explanation


def _compiled_code(derivation: Any, arrays: dict[str, np.ndarray], targets: set[str]
                   ) -> tuple[str | None, str | None]:
    """The generated NumPy code of the derivation's forward and backward pass, or the reason
    it cannot be compiled (a loss that draws its own random numbers, branches on values …)."""
    from autograd_lite.compile import backward_source
    from autograd_lite.verify import _call

    # Float inputs are the program's arguments; integer ones (labels, word indices) decide
    # which rows the program reads, so they are constants of it.
    names = [k for k, v in arrays.items() if v.dtype.kind == "f"]
    fixed = {k: v for k, v in arrays.items() if v.dtype.kind != "f"}
    wrt = tuple(i for i, k in enumerate(names) if k in targets)

    def loss_and_gradients(*values: Any) -> Any:
        return _call(derivation.loss, {**fixed, **dict(zip(names, values))}, derivation.seed,
                     "loss")

    # (the generated code names its arguments after the inputs)
    loss_and_gradients.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in names])

    try:
        return backward_source(loss_and_gradients, *(arrays[k] for k in names), argnums=wrt), None
    except AutogradLiteError as exc:
        return None, f"not compiled: {exc}"


def explanation_of(report: Any) -> Explanation | None:
    """The explanation of a verified derivation's loss, for the report of a failing target:
    None when the derivation passed, is a writeup or kept no loss (explaining needs only the
    graph's structure, which backward() keeps)."""
    if getattr(report, "passed", True) or getattr(report, "error", None) is not None or \
            not isinstance(getattr(report, "loss", None), Tensor) or report.loss._node is None:
        return None
    try:
        return explain(report.loss)
    except (GraphError, ShapeError):
        return None


def _merged(nodes: list[Node], texts: dict[int, str | None],
            entries: dict[int, _Entry]) -> list[Node]:
    """The nodes to write as inputs so that the writeup's model has the tape's structure.

    The checker takes structurally equal expressions for one node (a definition *is* its
    expression), so a node whose expanded expression equals another's, or is found inside one
    that does not use it (``softmax(θ)`` inside another node's ``\\log softmax(θ)``), would
    receive the other's gradient too. Such a node is declared instead of defined (its step is
    then generic), one at a time, until no two nodes are confused."""
    from autograd_lite.writeup.model import Model
    from autograd_lite.writeup.syntax import NotUnderstood, Parser, Sym, tokenize, walk

    position = {id(node): i for i, node in enumerate(nodes)}
    ancestors: dict[int, int] = {}  # (a bit per node: the nodes each one depends on)
    for node in nodes:  # (oldest first: the parents are done)
        bits = 0
        for parent in node.parents:
            if type(parent) is Node:
                bits |= (1 << position[id(parent)]) | ancestors[id(parent)]
        ancestors[id(node)] = bits
    symbols = frozenset(e.symbol for e in entries.values())
    leaf_keys = {repr(Sym(e.symbol)) for e in entries.values() if e.leaf}
    definitions, owners = {}, {}
    cut: list[Node] = []
    for node in nodes:
        text = texts[id(node)]
        if text is None:
            continue
        try:
            definitions[entries[id(node)].symbol] = Parser(tokenize(text), text,
                                                           symbols).parse()
            owners[entries[id(node)].symbol] = node
        except NotUnderstood:
            cut.append(node)
    while True:
        model = Model(dict(definitions), {}, set())
        keys: dict[str, str] = {}
        within: dict[str, set[int]] = {}  # the key of each part of a definition → its nodes
        try:
            for symbol, tree in definitions.items():
                keys[symbol] = model.key(Sym(symbol))
                for part in walk(tree):
                    within.setdefault(model.key(part), set()).add(id(owners[symbol]))
        except NotUnderstood:  # (a definition the checker cannot expand: written as input)
            confused = owners[symbol]
        else:
            confused = next((owners[symbol] for symbol, key in keys.items()
                             if key in leaf_keys or any(
                                 other != id(owners[symbol]) and not
                                 ancestors[other] >> position[id(owners[symbol])] & 1
                                 for other in within.get(key, ()))), None)
        if confused is None:
            return cut
        cut.append(confused)
        del definitions[entries[id(confused)].symbol]


def _nodes(root: Node) -> list[Node]:
    """Every node the loss depends on, oldest first."""
    seen: dict[int, Node] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen[id(node)] = node
        stack.extend(p for p in node.parents if type(p) is Node)
    return sorted(seen.values(), key=lambda n: n.seq)


def _leaves(nodes: list[Node]) -> list[Tensor]:
    found: dict[int, Tensor] = {}
    for node in nodes:
        for parent in node.parents:
            if type(parent) is Tensor:
                found.setdefault(id(parent), parent)
    return list(found.values())


def _node_tensor(node: Node) -> Tensor:
    from autograd_lite.tensor import _new_tensor

    data = node.out if node.out is not None else np.zeros(node.shape, node.dtype)
    return _new_tensor(data, node)


def _context(node: Node, atoms: list[str], out: str) -> Context:
    names = node.op.inputs if not node.op.sequence else tuple(
        f"x{i}" for i in range(len(atoms)))
    shapes = {n: tuple(p.shape) if type(p) in (Node, Tensor) else np.shape(p)
              for n, p in zip(names, node.parents)}
    from autograd_lite.tensor import raw

    values = {n: raw(p) for n, p in zip(names, node.parents) if type(p) is not Node}
    return Context({**dict(zip(names, atoms)), "out": out}, dict(node.attrs), shapes,
                   node.shape, values=values)


def _propagate(node: Node, entry: _Entry, entries: dict[int, _Entry], ctx: Context,
               written: bool) -> None:
    """Hand each input of ``node`` its share of the gradient: a LaTeX term from the op's
    template, with the sums that undo broadcasting, or the generic step."""
    template = node.op.latex
    names = list(ctx.shapes)
    for position, parent in enumerate(node.parents):
        if type(parent) is not Node and not (type(parent) is Tensor and parent.requires_grad):
            continue
        target = entries[id(parent)]
        if written and entry.connected:
            target.connected = True
        text = None
        if template is not None and written and position < len(template.gradients):
            text = _contribution(template, position, ctx, entry, ctx.shapes[names[position]])
        if text is None:
            g = number(entry.constant) if entry.constant is not None else entry.delta
            target.contributions.append((node.op.name, f"\\mathrm{{VJP}}_{{\\mathrm{{"
                                         f"{node.op.name}}}}}^{{({position + 1})}}({g})", False))
        else:
            target.contributions.append((node.op.name, text, True))


def _contribution(template: Latex, position: int, ctx: Context, entry: _Entry,
                  shape: tuple[int, ...]) -> str | None:
    """One consumer's share of an input's gradient: the op's template at the output's gradient
    (a folded constant, or its symbol), with the sum that undoes broadcasting; None: generic."""
    piece = template.gradients[position]
    folded = None if entry.constant is None else \
        _with_constant_gradient(piece, ctx, entry.constant)
    if folded is None:
        if entry.delta is None:  # (the loss itself: its seed is always folded)
            return None
        text = _fill(piece, replace(ctx, atoms={**ctx.atoms, "g": entry.delta}))
    else:
        text = folded
    if text is None:
        return None
    value = constant_value(text)
    wide = ctx.out_shape if template.elementwise else shape
    if value is not None:  # a constant array of the broadcast shape: summed, it scales
        return number(value * (int(np.prod(wide)) // max(1, int(np.prod(shape)))))
    term = _term_shape(piece, ctx)
    if folded is not None and (term is None or _row_view(term) != _row_view(wide)):
        # the folded constant carried the gradient's shape, which the rest does not
        return _contribution(template, position, ctx, replace(entry, constant=None), shape)
    return unbroadcast(text, wide, shape) if wide != shape else text


def _term_shape(piece: Piece, ctx: Context) -> tuple[int, ...] | None:
    """The broadcast shape of the inputs a template uses besides ``$g`` (None: unknown)."""
    if callable(piece):
        piece = piece(ctx)
    if not isinstance(piece, str):
        return None
    used = set(re.findall(r"\$([A-Za-z_][A-Za-z0-9_]*)", piece)) - {"g"}
    shapes = [ctx.out_shape if n == "out" else ctx.shapes.get(n) for n in used]
    if not shapes or any(s is None for s in shapes):
        return None
    try:
        return tuple(np.broadcast_shapes(*shapes))  # type: ignore[arg-type]
    except ValueError:
        return None


def constant_value(text: str) -> float | None:
    """The value of a term that is a plain number or a product of numbers (``-1``,
    ``\\frac{1}{20}``, ``1 \\circ \\frac{1}{3}``), else None."""
    factors = text.split(" \\circ ")
    if len(factors) > 1:
        values = [constant_value(f) for f in factors]
        return None if any(v is None for v in values) else float(np.prod(values))
    text = text.strip()
    sign = 1.0
    while text.startswith("-") or (text.startswith("(-") and text.endswith(")")):
        text = text[2:-1] if text.startswith("(-") else text[1:]
        sign = -sign
        text = text.strip()
        if text.startswith("(") and text.endswith(")") and "(" not in text[1:-1]:
            text = text[1:-1].strip()
    frac = re.fullmatch(r"\\frac\{(\d+)\}\{(\d+)\}", text)
    if frac:
        return sign * int(frac.group(1)) / int(frac.group(2))
    if re.fullmatch(r"\d+(\.\d+)?(e-?\d+)?", text):
        return sign * float(text)
    return None


def _finish(entry: _Entry, loss: str) -> Step | None:
    """The display of one gradient: the sum of the contributions of its consumers."""
    if not entry.contributions:
        return None
    checkable = all(written for _, _, written in entry.contributions)
    terms = [text for _, text, _ in entry.contributions]
    values = [constant_value(t) for t in terms]
    ops = tuple(dict.fromkeys(op for op, _, _ in entry.contributions))
    if checkable and all(v is not None for v in values):
        entry.constant = float(sum(values))  # type: ignore[arg-type]
        body = number(entry.constant)
        if body.startswith("(-"):
            body = body[1:-1]
    else:
        body = " + ".join(t if len(terms) == 1 else _grouped(t) for t in terms)
        body = body.replace("+ -", "- ").replace("+ (-", "- (")  # (cosmetic only: exact)
    delta = f"\\delta_{{{entry.symbol}}}"
    entry.delta = delta
    derivative = f"\\frac{{\\partial {loss}}}{{\\partial {entry.symbol}}}"
    if entry.leaf and entry.connected:
        members = [derivative, body]
    elif entry.connected:
        members = [delta, derivative, body]
    else:
        members = [delta, body]
    latex = " = ".join(members) + f" \\quad {shape_text(entry.shape)}"
    return Step(entry.symbol, latex, ops, checkable and entry.connected, entry.tensor,
                entry.shape, entry.leaf)


def _markdown(name: str, declarations: list[str], forward: list[str], steps: list[Step],
              cuts: list[str], entries: dict[int, _Entry], nodes: list[Node],
              root: Node) -> str:
    lines = [f"# The backward pass of ${name}$", "",
             "Row-vector convention (a vector is a row; a layer is x W + b). Written by "
             "`al.explain` from the tape: one step per gradient the tape forms, newest op "
             f"first, with $\\delta_v = \\partial {name} / \\partial v$ and every shape.", "",
             "## Inputs", ""]
    lines += [line for d in declarations for line in (f"$${d}$$", "")]
    if cuts:
        lines += [f"The outputs of {', '.join(f'`{c}`' for c in dict.fromkeys(cuts))} are "
                  "declared as inputs: the writeup language cannot write that op, so its "
                  "gradient step is generic and not checked.", ""]
    lines += ["## Forward", ""] + [line for f in forward for line in (f"$${f}$$", "")]
    lines += ["## Backward", "", f"The seed is $\\partial {name} / \\partial {name} = 1$; a "
              "gradient that is a constant is folded into the steps that use it, and "
              "$\\mathbf{1}^\\top \\delta$ is the sum of $\\delta$ over its rows (undoing a "
              "broadcast).", ""]
    for number_, step in enumerate(steps, 1):
        how = ", ".join(f"`{op}`" for op in step.ops)
        note = "" if step.checkable else " (generic: not expressible in the writeup language)"
        lines += [f"**Step {number_}** (through {how}){note}:", "", f"$${step.latex}$$", ""]
    return "\n".join(lines)


# --------------------------------------------------------- helpers and families of templates
# A function template returns a string template (with $-placeholders) for the op's settings and
# shapes, or None where the writeup language cannot write the case. The templates themselves
# stand beside their ops' registrations (ops.py, elementwise.py, products.py, ...).
def last_axis(ctx: Context, x: str = "x") -> bool:
    """Whether the op works along the last axis of a vector or a matrix (its rows)."""
    axis = ctx.settings.get("axis", -1)
    return ctx.ndim(x) in (1, 2) and isinstance(axis, int) and axis in (-1, ctx.ndim(x) - 1)


def _reduced(ctx: Context) -> str | None:
    """Which axes a reduction of ``x`` sums: "all", "rows" (axis 0 of a matrix), "columns"."""
    axis, ndim = ctx.settings.get("axis"), ctx.ndim("x")
    if isinstance(axis, (tuple, list)):
        axis = tuple(a % ndim for a in axis) if ndim else axis
        if len(axis) == ndim:
            return "all"
        axis = axis[0] if len(axis) == 1 else "?"
    if axis is None or ndim <= 1:
        return "all"
    if ndim == 2 and axis in (0, -2):
        return "rows"
    if ndim == 2 and axis in (1, -1):
        return "columns"
    return None


def _count(ctx: Context) -> int:
    return int(np.prod(ctx.shapes["x"])) // max(1, int(np.prod(ctx.out_shape)))


def reduction(mean: bool) -> Latex:
    """``sum`` (``mean``: times 1/n) over all elements, the rows or the columns of a matrix."""
    def forward(ctx: Context) -> str | None:
        keep = ctx.settings.get("keepdims", False)
        text = {"all": "\\sum $x", "rows": "\\mathbf{1}^\\top $x",
                "columns": "$x \\mathbf{1}" if keep else "($x \\mathbf{1})^\\top"
                }.get(_reduced(ctx) or "")
        if text is None or not mean or _count(ctx) == 1:
            return text
        return f"{text} \\circ {number(1 / _count(ctx))}"  # (\\sum reaches over the ∘)

    def gradient(ctx: Context) -> str | None:
        keep, kind = ctx.settings.get("keepdims", False), _reduced(ctx)
        tail = f" \\circ {number(1 / _count(ctx))}" if mean and _count(ctx) != 1 else ""
        if kind == "all":
            return "$g" + tail
        if kind is None:
            return None
        rows, columns = ctx.shapes["x"]
        if kind == "rows":
            return f"{ctx.ones(rows)} $g" + tail
        g = "$g" if keep else "$g^\\top"
        return f"{g} {ctx.ones(columns)}^\\top" + tail

    return Latex(forward, gradient)


def product(x: str = "x", y: str = "y") -> Latex:
    """A matrix product of matrices or vectors (rows): x y, x_row y, A v as v Aᵀ, u · v."""
    def kind(ctx: Context) -> tuple[int, int] | None:
        dims = (ctx.ndim(x), ctx.ndim(y))
        return dims if all(d in (1, 2) for d in dims) else None

    def forward(ctx: Context) -> str | None:
        k = kind(ctx)
        return None if k is None else {(2, 1): f"${y} ${x}^\\top",
                                       (1, 1): f"${x} ${y}^\\top"}.get(k, f"${x} ${y}")

    def grad_x(ctx: Context) -> str | None:
        k = kind(ctx)
        return None if k is None else {(2, 1): f"$g^\\top ${y}", (1, 1): f"$g ${y}"}.get(
            k, f"$g ${y}^\\top")

    def grad_y(ctx: Context) -> str | None:
        k = kind(ctx)
        return None if k is None else {(2, 1): f"$g ${x}", (1, 1): f"$g ${x}"}.get(
            k, f"${x}^\\top $g")

    return Latex(forward, grad_x, grad_y)


def one_hot_rows(value: Any) -> bool:
    """Whether labels given as data are rows of one 1 and zeros (so Σ_k y_k = 1 exactly)."""
    if value is None:
        return False
    value = np.asarray(value)
    return bool(value.size) and bool(np.isin(value, (0.0, 1.0)).all()) and \
        bool((value.sum(axis=-1) == 1).all())
