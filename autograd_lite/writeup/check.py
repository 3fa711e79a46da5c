"""Check a writeup as it is written: :func:`check_writeup`.

The writeup's equations are read in order. A declaration (``W_1 \\in \\mathbb{R}^{D_x \\times
H}``) gives a shape; an equation whose left side is a symbol not defined before defines it
(wherever it stands), and so does an undefined symbol standing inside a chain; every other
``=`` is a claim. Each link of a chain whose two sides are understood is checked, on several
seeded draws of the inputs: a side that is a derivative is computed by the tape and by finite
differences and the other side is judged against both, as the Python verifier judges a gradient;
two sides without derivatives must agree to round-off. What is not understood is listed with
its line and the reason, never counted as a failure.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograd_lite.checking import resolution_floor
from autograd_lite.diagnosis import Diagnosis
from autograd_lite.errors import WriteupError
from autograd_lite.verify import (
    Check,
    _add,
    _largest,
    _spread,
    regular_file_bytes,
    tolerances,
)
from autograd_lite.writeup import extract
from autograd_lite.writeup.judging import WriteupCheck, WriteupReport, judge
from autograd_lite.writeup.model import (
    MAX_SIZE,
    Declaration,
    Evaluation,
    Model,
    Numeric,
    ShapeFailure,
    run_safely,
)
from autograd_lite.writeup.reading import Member, Statement, function_head, read_statement
from autograd_lite.writeup.syntax import (
    Binary,
    Call,
    Deriv,
    Index,
    Node,
    NotUnderstood,
    Parser,
    Reduce,
    Sym,
    free_indices,
    walk,
)

DRAWS = 3


@dataclass
class Link:
    left: Member
    right: Member
    equals: int  # offset of the '=' just before the right member
    conclusion: bool = False  # the chain's first member against its last


def check_writeup(path_or_text: str | Path, dims: dict[str, int] | None = None, seed: int = 0,
                  convention: str | None = None) -> WriteupReport:
    """Check every equation of a Markdown or LaTeX writeup (a path, or the text itself).

    ``dims`` sets symbolic sizes (``{"D_x": 10}``); ``seed`` the first of the draws;
    ``convention`` is "row" (vectors are rows, ``h = σ(xW + b)``, the default) or "column";
    without it, a writeup may choose with a line ``<!-- autograd-lite: convention=column -->``
    (or ``% autograd-lite: convention=column`` in LaTeX).
    """
    try:
        text, file, tex = _read(path_or_text)
    except WriteupError as exc:
        file = str(path_or_text) if isinstance(path_or_text, Path) or (
            isinstance(path_or_text, str) and len(path_or_text) < 4096) else None
        report = WriteupReport(name=Path(file).stem if file else "writeup", file=file)
        report.error = str(exc)
        return report
    name = extract.title(text, tex) or (Path(file).stem if file else "writeup")
    chosen = convention or _directive(text) or "row"
    report = WriteupReport(name=name, file=file, convention=chosen)
    if chosen not in ("row", "column"):
        report.error = f"convention must be 'row' or 'column', got {chosen!r}"
        return report
    problem = dims_problem(dims or {})
    if problem is not None:
        report.error = problem
        return report
    try:
        _check_into(report, text, tex, dict(dims or {}), seed, chosen)
    except WriteupError as exc:
        report.error = str(exc)
    return report


def dims_problem(dims: Any) -> str | None:
    """Why ``dims`` (size name → size) cannot be used, or None: each size a whole number from
    1 to MAX_SIZE (a size 0 would make every check vacuous)."""
    if not isinstance(dims, dict):
        return f"dims must be a dict of size name → size, got {type(dims).__name__}"
    for key, value in dims.items():
        if not isinstance(key, str) or not key.strip():
            return f"dims: a size name must be a non-empty string, got {key!r}"
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or \
                not 1 <= value <= MAX_SIZE:
            return (f"dims: {key} = {value!r}; sizes are limited to whole numbers from 1 to "
                    f"{MAX_SIZE}")
    return None


def _directive(text: str) -> str | None:
    match = re.search(r"autograd-lite:\s*convention\s*=\s*(\w+)", text)
    return match.group(1) if match else None


def _read(path_or_text: str | Path) -> tuple[str, str | None, bool]:
    if isinstance(path_or_text, Path) or (
            isinstance(path_or_text, str) and "\n" not in path_or_text
            and len(path_or_text) < 4096 and not path_or_text.lstrip().startswith(("$", "\\"))
            and Path(path_or_text).suffix.lower() in (".md", ".tex", ".markdown", ".txt")):
        path = Path(path_or_text)
        data = regular_file_bytes(path, WriteupError,
                                  "a writeup must be a regular .md or .tex file",
                                  limit=extract.MAX_BYTES)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WriteupError(f"{path}: is not valid UTF-8 text (byte 0x{data[exc.start]:02x} "
                               f"at position {exc.start}); save it as UTF-8") from None
        return text, str(path), path.suffix.lower() == ".tex"
    if not isinstance(path_or_text, str):
        raise WriteupError(f"check_writeup takes a path or the writeup's text, got "
                           f"{type(path_or_text).__name__}")
    if len(path_or_text) > extract.MAX_BYTES:
        raise WriteupError(f"the writeup has {len(path_or_text)} characters; a writeup is "
                           f"limited to {extract.MAX_BYTES}")
    tex = bool(re.search(r"\\begin\{document\}|\\documentclass", path_or_text))
    return path_or_text, None, tex


def _check_into(report: WriteupReport, text: str, tex: bool, dims: dict[str, int], seed: int,
                convention: str) -> None:
    if len(text) > extract.MAX_BYTES:
        raise WriteupError(f"the writeup has {len(text)} characters; the limit is "
                           f"{extract.MAX_BYTES}")
    lines = extract.LineIndex(text)
    equations, refusals = extract.equations(text, tex)

    def skip(start: int, latex: str, reason: str) -> None:
        report.not_checked.append({"line": lines.line(start), "latex": latex.strip(),
                                   "reason": reason})

    for refusal in refusals:
        skip(refusal.start, refusal.text, refusal.reason)
    statements: list[Statement] = []
    for equation in equations:
        if "=" not in equation.text and "\\in" not in equation.text:
            continue  # a mention of a symbol in the prose, not an equation
        try:
            statement = read_statement(equation, text)
        except NotUnderstood as exc:
            statement = Statement([], [], equation.text, equation.pieces[0].start,
                                  error=str(exc))
        if statement.error == "empty":
            continue  # only annotations, such as (1 \times H)(H \times D_x) = (1 \times D_x)
        statements.append(statement)

    # pass 1: the names a writeup declares or defines, and its sizes
    size_names: set[str] = set()
    declared_names: set[str] = set()
    writeup_dims: dict[str, int] = {}
    functions: dict[str, tuple[str, ...]] = {}
    for statement in statements:
        writeup_dims.update(statement.dims)
        if statement.declaration is not None:
            size_names |= {d for d in statement.declaration.dims if isinstance(d, str)}
            declared_names |= set(statement.declared)
        for member in statement.members[:1]:
            head = function_head(member, text) if len(statement.members) > 1 else None
            if head is not None and head[0] not in functions:
                functions[head[0]] = head[1]
                declared_names.add(head[0])
                continue
            try:
                node = Parser(member.tokens, text).parse()
            except NotUnderstood:
                continue
            if isinstance(node, Sym):
                declared_names.add(node.name)
        for member in statement.members:
            try:
                node = Parser(member.tokens, text).parse()
            except NotUnderstood:
                continue
            size_names |= {n.upper.name for n in walk(node) if isinstance(n, Reduce)
                           and isinstance(n.upper, Sym)}
    size_names |= set(writeup_dims) | set(dims)
    all_dims = {**writeup_dims, **dims}
    known = frozenset(declared_names - size_names)

    # pass 2: parse every member
    for statement in statements:
        for member in statement.members:
            try:
                member.node = Parser(member.tokens, text, known, frozenset(size_names),
                                     functions).parse()
            except NotUnderstood as exc:
                member.error = str(exc)
        if statement.declaration is not None and statement.members and \
                isinstance(statement.members[0].node, Sym):
            statement.declared = [statement.members[0].node.name]

    # declarations, definitions, claims
    declarations: dict[str, Declaration] = {}
    definitions: dict[str, Node] = {}
    defined_at: dict[str, int] = {}
    broken: dict[str, str] = {}
    chains: list[tuple[Statement, list[tuple[int, Member]]]] = []

    def depends_on(node: Node, name: str, seen: set[str]) -> bool:
        for sub in walk(node):
            if isinstance(sub, Sym):
                if sub.name == name:
                    return True
                if sub.name in definitions and sub.name not in seen:
                    seen.add(sub.name)
                    if depends_on(definitions[sub.name], name, seen):
                        return True
        return False

    def is_new(node: Node | None) -> bool:
        return isinstance(node, Sym) and node.name not in definitions and \
            node.name not in size_names and node.name not in broken

    heads: set[int] = set()  # statements whose first member is defined by the second
    for statement in statements:
        if statement.error or statement.dims or len(statement.members) < 2:
            continue
        head, following = statement.members[0], statement.members[1]
        if is_new(head.node):
            assert isinstance(head.node, Sym)
            name = head.node.name
            if following.node is None:
                broken[name] = f"the definition of {name} (line {lines.line(head.start)}) " \
                    f"was not understood: {following.error}"
            else:
                definitions[name] = following.node
            defined_at[name] = head.start
            heads.add(id(statement))
    for statement in statements:
        if statement.error:
            skip(statement.start, statement.text, statement.error)
            report.equations.append(_equation(lines, statement, "not checked"))
            continue
        if statement.dims:
            report.equations.append(_equation(lines, statement, "sizes"))
            continue
        if statement.declaration is not None:
            for name in statement.declared:
                declarations[name] = Declaration(name, statement.declaration.dims,
                                                 statement.declaration.one_hot)
            if not statement.members:
                report.equations.append(_equation(lines, statement, "declaration"))
                continue
        members = list(enumerate(statement.members))
        if id(statement) in heads:
            members = members[1:]
        kept: list[tuple[int, Member]] = []
        for i, member in members:
            node = member.node
            previous = kept[-1][1].node if kept else None
            if kept and is_new(node) and previous is not None and \
                    not depends_on(previous, node.name, set()):  # type: ignore[union-attr]
                definitions[node.name] = previous  # type: ignore[union-attr]
                defined_at[node.name] = member.start  # type: ignore[union-attr]
                continue
            kept.append((i, member))
        chains.append((statement, kept))

    one_hot = {name for name, d in declarations.items() if d.one_hot}
    model = Model(definitions, declarations, size_names, convention, all_dims, one_hot)

    # shapes: unify over definitions, then claims
    for name in list(definitions):
        try:
            model.infer(Sym(name))
        except NotUnderstood as exc:
            broken[name] = f"the definition of {name} (line {lines.line(defined_at[name])}) " \
                f"was not understood: {exc}"
    model_symbols: set[str] = set(declarations)
    for name, node in definitions.items():
        model_symbols |= model.expanded_symbols(node) | {name}
    for _, kept in chains:
        for _, member in kept:
            if member.node is not None:
                model.scalars |= {n for n in model.expanded_symbols(member.node)
                                  if n not in model_symbols and n not in size_names
                                  and not n[:1].isupper()}
    for _, kept in chains:
        for _, member in kept:
            if member.node is not None and not model.expanded_symbols(member.node) <= \
                    model_symbols | size_names:
                try:
                    model.infer(member.node)
                except NotUnderstood as exc:
                    member.error, member.node = str(exc), None
    for node in definitions.values():
        for sub in walk(node):
            if isinstance(sub, Call) and sub.fn == "CE":
                model.one_hot |= {s.name for s in walk(sub.args[0]) if isinstance(s, Sym)
                                  and s.name not in definitions}
    for _, kept in chains:
        for _, member in kept:
            if member.node is not None:
                for sub in walk(member.node):
                    if isinstance(sub, Call) and sub.fn == "CE":
                        model.one_hot |= {s.name for s in walk(sub.args[0])
                                          if isinstance(s, Sym) and s.name not in definitions}
    every_symbol: set[str] = set(declarations)
    for node in definitions.values():
        every_symbol |= model.expanded_symbols(node)
    for _, kept in chains:
        for _, member in kept:
            if member.node is not None:
                every_symbol |= model.expanded_symbols(member.node)
    for name in every_symbol - size_names - set(definitions):
        model.input_shape(name)
    model.settle_sizes()
    report.sizes = dict(model.sizes)
    report.inferred = {k: list(v) for k, v in model.inferred.items()}

    # the links to check
    pending: list[tuple[Statement, Link]] = []
    entries: list[tuple[Statement, dict[str, Any]]] = []
    def loose(node: Node) -> list[str]:
        return sorted(s for s in model.expanded_symbols(node)
                      if s not in model_symbols and s not in size_names)

    for statement, kept in chains:
        understood = []
        status_parts = []
        chain_uses_model = any(member.node is not None and
                               model.expanded_symbols(member.node) & model_symbols
                               for _, member in kept)
        for i, member in kept:
            reason = member.error
            if reason is None and chain_uses_model and member.node is not None and \
                    loose(member.node):
                reason = (f"{', '.join(loose(member.node))} appear(s) nowhere else in the "
                          "writeup (not declared, not defined, not used by a definition); "
                          "define or declare it to check this equation")
            if member.node is not None:
                uses = [s for s in model.expanded_symbols(member.node) if s in broken]
                used = [s.name for s in walk(member.node) if isinstance(s, Sym)
                        and s.name in broken]
                if used or uses:
                    reason = broken[(used or uses)[0]]
            if reason is None:
                understood.append((i, member))
            else:
                skip(member.start, member.text, reason)
                status_parts.append("not checked")
        links = []
        for (_, a), (j, b) in itertools.pairwise(understood):
            equals = statement.equals[j - 1] if 0 < j <= len(statement.equals) else b.start
            links.append(Link(a, b, equals))
        if len(understood) >= 3:  # the conclusion, first member against the last
            links.append(Link(understood[0][1], understood[-1][1], links[-1].equals, True))
        for link in links:
            pending.append((statement, link))
        if links:
            entry = _equation(lines, statement, "checked")
            entry["partly"] = bool(status_parts)
        else:
            entry = _equation(lines, statement, "not checked" if status_parts else "definition")
        report.equations.append(entry)
        entries.append((statement, entry))

    # evaluate every link on several draws
    inputs = set()
    for _, link in pending:
        for member in (link.left, link.right):
            inputs |= model.expanded_symbols(member.node)
    for node in definitions.values():
        inputs |= model.expanded_symbols(node)
    inputs = {s for s in inputs if s not in size_names and s not in definitions}
    try:
        draws = [model.draw(inputs, np.random.default_rng(seed + d)) for d in range(DRAWS)]
    except NotUnderstood as exc:
        raise WriteupError(str(exc)) from None
    report.draws = DRAWS
    report.inferred = {k: v for k, v in report.inferred.items() if k in inputs}
    batch = model.sizes.get("N")
    results: list[tuple[Statement, Link, Check | str]] = []
    for statement, link in pending:  # (a member with loose symbols was never linked)
        results.append((statement, link, _check_link(model, link, draws, batch, text)))
    report.tolerances = tolerances()
    for _, link, outcome in results:
        latex = f"{link.left.text} = {link.right.text}"
        if isinstance(outcome, str):
            skip(link.equals, latex, outcome)
            continue
        check = WriteupCheck(**{k: v for k, v in outcome.__dict__.items()},
                             line=lines.line(link.equals), latex=latex)
        if link.conclusion:
            check.target = f"conclusion: {check.target}"
        report.checks.append(check)
    verdicts: dict[int, list[str]] = {}
    for statement, _, outcome in results:
        verdicts.setdefault(id(statement), []).append(
            "not checked" if isinstance(outcome, str) else
            ("passed" if outcome.passed else "failed"))
    for statement, entry in entries:
        if entry["status"] == "checked":
            entry["status"] = _verdict(verdicts.get(id(statement), []) + (
                ["not checked"] if entry.pop("partly", False) else []))
    report.equations.sort(key=lambda entry: entry["line"])
    report.not_checked.sort(key=lambda entry: entry["line"])


def _equation(lines: extract.LineIndex, statement: Statement, status: str) -> dict[str, Any]:
    return {"line": lines.line(statement.start), "latex": statement.text, "status": status}


def _verdict(verdicts: list[str]) -> str:
    """An equation's status from its links': failed if one fails, passed if all pass."""
    if "failed" in verdicts:
        return "failed"
    if verdicts and all(v == "passed" for v in verdicts):
        return "passed"
    return "partly checked" if "passed" in verdicts else "not checked"


def _side(evaluation: Evaluation, node: Node, model: Model, numeric: bool = True
          ) -> tuple[np.ndarray, Numeric | None, Deriv | None]:
    """A side's value, and its finite differences (with their estimated errors) when it is a
    derivative and ``numeric`` is asked for."""
    target = node
    positions = None
    while isinstance(target, Sym) and target.name in model.definitions:
        target = model.definitions[target.name]
    if isinstance(target, Index) and isinstance(target.arg, Deriv):
        positions, target = target, target.arg
    if isinstance(target, Deriv):
        tape, numbers = evaluation.derivative_with_numeric(target, numeric)
        if positions is not None:
            where = evaluation.position(tape.shape, positions)
            return (np.asarray(tape[where]),
                    None if numbers is None else numbers.select(where), target)
        return tape, numbers, target
    return evaluation.value(node), None, None


def _check_link(model: Model, link: Link, draws: list[dict[str, np.ndarray]],
                batch: int | None, source: str) -> Check | str:
    """The link judged on every draw: the first draw where it fails, else the first where its
    outcome is not a plain pass (a kink, an unreliable numeric reference), else the draw whose
    comparisons came closest to their tolerances."""
    left, right = link.left.node, link.right.node
    assert left is not None and right is not None
    label = f"{left} = {right}"
    model.steps = 0
    chosen: Check | None = None
    for arrays in draws:
        try:
            check = run_safely(_judge_draw, model, left, right, arrays, batch, label)
        except NotUnderstood as exc:
            return str(exc)
        except ShapeFailure as failure:
            return _shape_check(model, link, failure, arrays, batch, label)
        if not check.passed:
            return check
        if chosen is None or (chosen.outcome == "pass" and (
                check.outcome != "pass" or _closeness(check) >= _closeness(chosen))):
            chosen = check
    assert chosen is not None
    return chosen


def _closeness(check: Check) -> float:
    return max(check.tape_vs_formula or 0.0, check.tape_vs_numeric or 0.0,
               check.formula_vs_numeric or 0.0)


def _judge_draw(model: Model, left: Node, right: Node, arrays: dict[str, np.ndarray],
                batch: int | None, label: str) -> Check:
    free = sorted(free_indices(left) | free_indices(right))
    base = Evaluation(model, arrays)
    container = Binary("+", left, right)
    ranges = [range(base.index_range(letter, container)) for letter in free]
    combinations = list(itertools.product(*ranges))
    cache: dict = {}
    values: dict[str, list] = {"lv": [], "ln": [], "rv": [], "rn": []}
    derivs: list[Deriv | None] = [None, None]
    evaluation = base
    for combination in combinations:
        evaluation = Evaluation(model, arrays, env=dict(zip(free, combination)), cache=cache)
        lv, ln, ld = _side(evaluation, left, model)
        rv, rn, rd = _side(evaluation, right, model)
        derivs = [ld or derivs[0], rd or derivs[1]]
        values["lv"].append(lv)
        values["ln"].append(ln)
        values["rv"].append(rv)
        values["rn"].append(rn)
    shape = tuple(len(r) for r in ranges)

    def stack(items: list[Any]) -> np.ndarray:
        if not free:
            return np.asarray(items[0], dtype=np.float64)
        return np.asarray(items, dtype=np.float64).reshape(shape + np.shape(items[0]))

    def stack_numeric(items: list[Numeric | None]) -> Numeric | None:
        present = [item for item in items if item is not None]
        if len(present) != len(items):
            return None
        return present[0] if not free else Numeric.stack(present, shape)

    lv, rv = stack(values["lv"]), stack(values["rv"])
    ln, rn = stack_numeric(values["ln"]), stack_numeric(values["rn"])
    sides32 = [_in_float32(model, left, right, sample, free, combinations, stack)
               for sample in _float32_samples(arrays)]
    if ln is not None or rn is not None:
        truth_left = ln is not None
        truth, numeric, formula = (lv, ln, rv) if truth_left else (rv, rn, lv)
        pairs32 = [None if s is None else (s if truth_left else s[::-1]) for s in sides32]
        deriv = derivs[0] if truth_left else derivs[1]
        assert deriv is not None and numeric is not None
        is_input = isinstance(deriv.wrt, Sym) and deriv.wrt.name not in model.definitions
        kind = "gradient" if is_input else "step"
        formula = _broadcast_number(formula, truth)
        wrt = str(deriv.wrt)
        of_size = evaluation.value(deriv.of).size
        diagonal = (of_size > 1 and formula.ndim == 2 and formula.shape[0] == formula.shape[1]
                    == truth.size and truth.shape == numeric.shape and truth.size > 1)
        if diagonal:  # the element-wise derivative written as its (diagonal) Jacobian
            truth, numeric = np.diag(truth.reshape(-1)), numeric.diag()
        spread = _spread_of(truth, formula, pairs32, diagonal)
        wrt_values = None if free else evaluation.value(deriv.wrt)
        floor = (resolution_floor(float(np.sum(evaluation.value(deriv.of))), wrt_values)
                 if of_size == 1 and wrt_values is not None else 0.0)
        check = judge(wrt, kind, formula, truth, numeric, spread, batch, wrt_values, floor)
        check.target = label
        if check.diagnosis is not None:
            message = check.diagnosis.message.replace(f"∂J/∂{wrt}", str(deriv))
            if of_size > 1 and truth.shape != evaluation.value(deriv.wrt).shape:
                message = message.replace(
                    f"{wrt} has shape", f"the Jacobian {deriv} (one row per element of "
                    f"{deriv.of}, one column per element of {wrt}) has shape").replace(
                    " In the row-vector convention ∂J/∂W = hᵀδ (the input's transpose on the "
                    "left).", "")
            check.diagnosis.message = message
    else:
        lv = _broadcast_number(lv, rv)
        rv = _broadcast_number(rv, lv)
        spread = _spread_of(rv, lv, [None if s is None else s[::-1] for s in sides32], False)
        check = judge(label, "claim", lv, rv, None, spread, batch)
    return check


def _float32_samples(arrays: dict[str, np.ndarray]) -> list[dict[str, np.ndarray]]:
    """The draw in float32, and once more with every input one ulp up (one sample alone can
    cancel exactly), as the verifier measures a derivation's round-off spread."""
    low = {k: v.astype(np.float32) for k, v in arrays.items()}
    return [low, {k: np.nextafter(v, np.float32(np.inf)) for k, v in low.items()}]


def _in_float32(model: Model, left: Node, right: Node, sample: dict[str, np.ndarray],
                free: list[str], combinations: list[tuple[int, ...]], stack: Any
                ) -> tuple[np.ndarray, np.ndarray] | None:
    """Both sides (derivatives from the tape only) computed in float32; None when that fails
    in any way (then no spread is used). Its work is not counted in the writeup's budget."""
    steps, total = model.steps, model.total_steps
    cache: dict = {}
    try:
        with np.errstate(all="ignore"):
            sides: list[list[np.ndarray]] = [[], []]
            for combination in combinations:
                evaluation = Evaluation(model, sample, env=dict(zip(free, combination)),
                                        cache=cache)
                for i, node in enumerate((left, right)):
                    sides[i].append(_side(evaluation, node, model, numeric=False)[0])
            return stack(sides[0]), stack(sides[1])
    except (Exception, ShapeFailure, NotUnderstood):
        return None
    finally:
        model.steps, model.total_steps = steps, total


def _spread_of(truth: np.ndarray, formula: np.ndarray,
               pairs32: list[tuple[np.ndarray, np.ndarray] | None], diagonal: bool
               ) -> np.ndarray | None:
    """The verifier's round-off spread of a link: per element, |float32 − float64| of the
    truth side plus that of the other side, the largest over the float32 samples."""
    if formula.shape != truth.shape:  # a shape failure: nothing to allow for
        return None
    spreads = []
    for pair in pairs32:
        if pair is None:
            continue
        truth32, formula32 = pair
        if diagonal:
            truth32 = np.diag(np.asarray(truth32).reshape(-1))
        formula32 = _broadcast_number(np.asarray(formula32, np.float64), truth)
        spreads.append(_add(_spread(truth, truth32), _spread(formula, formula32)))
    return _largest(*spreads)


def _broadcast_number(value: np.ndarray, other: np.ndarray) -> np.ndarray:
    """A plain number (``= 0``) stands for an array of its value; a 1 × 1 array is a number."""
    if value.size == 1 and other.size == 1:
        return value.reshape(other.shape)
    if value.size == 1 and value.shape != other.shape:
        return np.full(other.shape, float(value.reshape(-1)[0]))
    return value


def _replace(node: Node, old: Node, new: Node) -> Node:
    if node is old or node == old:
        return new
    if isinstance(node, Binary):
        return Binary(node.op, _replace(node.left, old, new), _replace(node.right, old, new))
    if isinstance(node, Call):
        return Call(node.fn, tuple(_replace(a, old, new) for a in node.args), node.primes)
    from dataclasses import replace as dc_replace
    fields = {f: _replace(getattr(node, f), old, new) for f in node.__dataclass_fields__
              if isinstance(getattr(node, f), Node)}
    return dc_replace(node, **fields) if fields else node


def _shape_check(model: Model, link: Link, failure: ShapeFailure, arrays: dict[str, np.ndarray],
                 batch: int | None, label: str) -> Check:
    """A shape failure, saying which of the products that fit would make the link hold."""
    message = str(failure)
    left, right = link.left.node, link.right.node
    assert left is not None and right is not None
    holding, tried = [], []
    for text, alternative in failure.alternatives:
        new_left, new_right = (_replace(left, failure.node, alternative),
                               _replace(right, failure.node, alternative))
        if failure.node is None or (new_left, new_right) == (left, right):
            continue
        try:
            check = run_safely(_judge_draw, model, new_left, new_right, arrays, batch, label)
        except (NotUnderstood, ShapeFailure):
            continue
        tried.append(text)
        if check.passed:
            holding.append((text, alternative))
    convention = f"in the {failure.convention}-vector convention"
    if holding:
        text, alternative = holding[0]
        if isinstance(alternative, Binary) and alternative.op == "*":
            message += (f"; an element-wise product fits where a matrix product is written, "
                        f"and with it, {text}, the equation holds")
        else:
            message += f"; {convention} {text}, with which the equation holds"
    elif tried:
        message += (f"; the products that fit ({', '.join(tried[:3])}) do not make the "
                    "equation hold either")
    elif failure.alternatives:
        message += f"; products that fit: {', '.join(t for t, _ in failure.alternatives[:3])}"
    kind = "claim"
    for side in (left, right):
        target = side.arg if isinstance(side, Index) else side
        if isinstance(target, Deriv):
            is_input = isinstance(target.wrt, Sym) and target.wrt.name not in \
                model.definitions
            kind = "gradient" if is_input else "step"
    return Check(label, kind, False, outcome="fail", diagnosis=Diagnosis("shape", message))
