"""Read one equation of a writeup: its members, its ``=`` signs, the declaration it ends with.

Before the sides are parsed, what is not mathematics is taken away: shape annotations such as
``(1 \\times D_y)`` or ``(V \\times 1)(1 \\times d) = (V \\times d)``, equation numbers ``(1)``,
``\\tag{…}``, and prose (``\\text{…}`` at either end, or after a ``\\quad``). An equation that
compares with anything but ``=`` (``<``, ``\\approx``, …) is not checked.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from autograd_lite.writeup import extract
from autograd_lite.writeup.model import Declaration
from autograd_lite.writeup.syntax import Node, NotUnderstood, Parser, Sym, Token, tokenize

RELATIONS = ("<", ">", "\\le", "\\ge", "\\leq", "\\geq", "\\neq", "\\ne", "\\approx", "\\sim",
             "\\propto", "\\to", "\\mapsto", "\\equiv", "\\simeq", "\\cong", "\\ll", "\\gg")


@dataclass
class Member:
    tokens: list[Token]
    text: str
    start: int
    end: int
    node: Node | None = None
    error: str | None = None


@dataclass
class Statement:
    """One equation of the writeup: its members (``a = b = c``), the offsets of its ``=``
    signs, and the declaration it ends with, if any."""

    members: list[Member]
    equals: list[int]
    text: str
    start: int
    declared: list[str] = field(default_factory=list)
    declaration: Declaration | None = None
    error: str | None = None
    dims: dict[str, int] = field(default_factory=dict)


def _depth_step(token: Token) -> int:
    if token.kind == "char" and token.text in "{([":
        return 1
    if token.kind == "char" and token.text in "})]":
        return -1
    return {"\\{": 1, "\\}": -1}.get(token.text, 0) if token.kind == "cmd" else 0


def _top_level(tokens: list[Token], match) -> list[int]:
    positions, depth = [], 0
    for i, token in enumerate(tokens):
        if depth == 0 and match(token):
            positions.append(i)
        depth += _depth_step(token)
    return positions


def _groups(tokens: list[Token], i: int) -> int:
    """The end of the parenthesised group starting at ``i`` (its ``(``)."""
    depth = 0
    for j in range(i, len(tokens)):
        depth += _depth_step(tokens[j])
        if depth == 0:
            return j + 1
    return len(tokens)


_SHAPE_TOKENS = {"\\times", "_", "{", "}", ","}


def _is_shape_group(tokens: list[Token]) -> bool:
    inner = tokens[1:-1]
    if not inner:
        return False
    return not any(t.kind == "word" or (t.kind == "char" and t.text not in _SHAPE_TOKENS) or
                   (t.kind == "cmd" and t.text not in _SHAPE_TOKENS and t.text[1:] not in
                    ("text", "mathrm", "quad")) for t in inner)


TEXT_COMMANDS = ("\\text", "\\mbox", "\\textrm", "\\textnormal", "\\textit", "\\textbf")


def _brace_end(tokens: list[Token], i: int) -> int:
    """The end of the ``{…}`` group starting at ``i`` (braces only)."""
    depth = 0
    for j in range(i, len(tokens)):
        if tokens[j].kind == "char" and tokens[j].text in "{}":
            depth += 1 if tokens[j].text == "{" else -1
            if depth == 0:
                return j + 1
    return len(tokens)


def strip_prose(tokens: list[Token]) -> list[Token]:
    """Drop ``\\text{…}`` at the start or the end of an equation, and everything from a
    ``\\quad`` followed by ``\\text{…}`` (a remark after the equation)."""
    def is_text(i: int) -> bool:
        return i < len(tokens) and tokens[i].text in TEXT_COMMANDS and i + 1 < len(tokens) \
            and tokens[i + 1].text == "{"
    for i, token in enumerate(tokens):
        if token.text in ("\\quad", "\\qquad") and is_text(i + 1):
            tokens = tokens[:i]
            break
    while is_text(0):
        tokens = tokens[_brace_end(tokens, 1):]
    changed = True
    while changed and tokens:
        changed = False
        for i in range(len(tokens)):
            if is_text(i) and _brace_end(tokens, i + 1) == len(tokens):
                tokens, changed = tokens[:i], True
                break
    return tokens


def strip_annotations(tokens: list[Token]) -> list[Token]:
    """Drop shape annotations ``(1 \\times D_y)``, ``(d)``, ``(V \\times 1)(1 \\times d) = (V
    \\times d)`` and equation numbers ``(1)`` that follow an expression, and a ``\\tag``."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.text in ("\\tag", "\\label") and i + 1 < len(tokens) and tokens[i + 1].text == "{":
            i = _groups(tokens, i + 1)
            continue
        if token.text == "(" and token.kind == "char":
            run_end, groups, has_times = i, [], False
            while run_end < len(tokens) and tokens[run_end].text == "(":
                group_end = _groups(tokens, run_end)
                group = tokens[run_end:group_end]
                if not _is_shape_group(group):
                    break
                groups.append(group)
                has_times |= any(t.text == "\\times" for t in group)
                run_end = group_end
                if run_end < len(tokens) and tokens[run_end].text == "=" and \
                        run_end + 1 < len(tokens) and tokens[run_end + 1].text == "(":
                    run_end += 1
            after_quad = bool(out) and out[-1].text in ("\\quad", "\\qquad")
            trailing = all(t.text in (".", ",", "\\quad", "\\qquad") for t in tokens[run_end:])
            numbers = len(groups) == 1 and all(t.kind == "num" for t in groups[0][1:-1])
            if groups and (has_times or (after_quad and trailing) or (numbers and trailing)):
                i = run_end
                continue
        out.append(token)
        i += 1
    while out and out[-1].text in ("=", "\\quad", "\\qquad", ".", ","):
        out.pop()
    return [t for t in out if t.text not in ("\\quad", "\\qquad")]


def read_statement(equation: extract.Equation, source: str) -> Statement:
    tokens: list[Token] = []
    for piece in equation.pieces:
        tokens.extend(tokenize(piece.text, piece.start))
    text = " ".join(p.text for p in equation.pieces)
    start = equation.pieces[0].start
    statement = Statement([], [], text, start)
    tokens = strip_annotations(strip_prose(tokens))
    if not tokens:
        statement.error = "empty"
        return statement
    refused = [t for t in tokens if t.kind == "cmd" and t.text[1:] in extract.REFUSED]
    if refused:
        statement.error = (f"{refused[0].text} is refused: a writeup is read, never run; "
                           "nothing is included and no macro is defined")
        return statement
    relations = _top_level(tokens, lambda t: t.text in RELATIONS and t.kind in ("cmd", "char"))
    if relations:
        statement.error = (f"only equalities are checked (found {tokens[relations[0]].text})")
        return statement
    ins = _top_level(tokens, lambda t: t.text == "\\in")
    if ins:
        chain_tokens, set_tokens = tokens[:ins[-1]], tokens[ins[-1] + 1:]
        try:
            statement.declaration = _read_set(set_tokens, source)
        except NotUnderstood as exc:
            statement.error = f"declaration not understood: {exc}"
            return statement
        tokens = chain_tokens
    equals = _top_level(tokens, lambda t: t.text == "=" and t.kind == "char")
    bounds = [-1, *equals, len(tokens)]
    for a, b in itertools.pairwise(bounds):
        part = tokens[a + 1:b]
        if part and part[-1].text == ":":
            part = part[:-1]  # a := b
        member = Member(part, source[part[0].start:part[-1].end] if part else "",
                        part[0].start if part else start, part[-1].end if part else start)
        statement.members.append(member)
    statement.equals = [tokens[i].start for i in equals]
    if statement.members and not statement.members[0].tokens and len(statement.members) > 1:
        statement.members = statement.members[1:]  # "= …" standing alone
        statement.equals = statement.equals[1:]
    if any(not m.tokens for m in statement.members):
        statement.error = "an empty side of an equation"
    if statement.declaration is not None:
        if len(statement.members) == 1:
            names = _symbol_list(statement.members[0], source)
            if names is None:
                statement.error = "a declaration of something other than symbols"
            statement.declared = names or []
            statement.members = []
        else:
            statement.declared = []  # the chain's first member, once parsed (see _declare)
    else:
        statement.dims = _size_assignment(statement, source)
    return statement


def _symbol_list(member: Member, source: str) -> list[str] | None:
    positions = _top_level(member.tokens, lambda t: t.text == ",")
    bounds = [-1, *positions, len(member.tokens)]
    names = []
    for a, b in itertools.pairwise(bounds):
        try:
            node = Parser(member.tokens[a + 1:b], source).parse()
        except NotUnderstood:
            return None
        if not isinstance(node, Sym):
            return None
        names.append(node.name)
    return names


def _read_set(tokens: list[Token], source: str) -> Declaration:
    """``\\mathbb{R}^{m \\times n}``, ``\\mathbb{R}^{n}``, ``\\mathbb{R}``, ``\\{0,1\\}^{…}``."""
    tokens = [t for t in tokens if t.text not in (".", ",") or t is not tokens[-1]]
    while tokens and tokens[-1].text in (".", ","):
        tokens = tokens[:-1]
    one_hot = False
    if tokens and tokens[0].text in ("\\mathbb", "\\mathbf", "\\Bbb") and len(tokens) >= 2:
        body = tokens[2:] if tokens[1].text != "{" else tokens[tokens.index(
            next(t for t in tokens[1:] if t.text == "}")) + 1:]
        letter = tokens[1].text if tokens[1].text != "{" else tokens[2].text
        if letter != "R":
            raise NotUnderstood(f"the set {source[tokens[0].start:tokens[-1].end]} "
                                "(only real arrays, \\mathbb{R}^{m \\times n})")
    elif tokens and tokens[0].text in ("\\R", "\\Reals"):
        body = tokens[1:]
    elif tokens and tokens[0].text == "\\{":
        close = next((i for i, t in enumerate(tokens) if t.text == "\\}"), None)
        if close is None or "".join(t.text for t in tokens[1:close]) != "0,1":
            raise NotUnderstood("only \\{0,1\\}^{…} (one-hot rows) among discrete sets")
        one_hot = True
        body = tokens[close + 1:]
    else:
        raise NotUnderstood("only \\mathbb{R}^{…} and \\{0,1\\}^{…} are declarations")
    if not body:
        return Declaration("", (), one_hot)
    if body[0].text != "^":
        raise NotUnderstood("a set followed by something other than its dimensions")
    parser = Parser(body[1:], source)
    dims_tokens = parser.group_tokens()
    if parser.pos != len(body) - 1:
        raise NotUnderstood("text after the dimensions of a declaration")
    parts, current = [], []
    for token in dims_tokens:
        if token.text in ("\\times", ","):
            parts.append(current)
            current = []
        else:
            current.append(token)
    parts.append(current)
    dims: list[str | int] = []
    for part in parts:
        if len(part) == 1 and part[0].kind == "num" and "." not in part[0].text:
            dims.append(int(part[0].text))
            continue
        try:
            node = Parser(part, source).parse()
        except NotUnderstood:
            node = None
        if not isinstance(node, Sym):
            raise NotUnderstood(f"the size '{source[part[0].start:part[-1].end] if part else ''}'"
                                " (a size is a number or a symbol)")
        dims.append(node.name)
    if len(dims) > 2:
        raise NotUnderstood("arrays of more than two axes are not supported")
    return Declaration("", tuple(dims), one_hot)


def _size_assignment(statement: Statement, source: str) -> dict[str, int]:
    """``(D_x, H, D_y) = (10, 5, 10)`` or ``D_x = 10``: sizes set by the writeup."""
    if len(statement.members) != 2:
        return {}
    left, right = statement.members
    def items(member: Member) -> list[list[Token]] | None:
        tokens = member.tokens
        if tokens and tokens[0].text == "(" and _groups(tokens, 0) == len(tokens):
            tokens = tokens[1:-1]
        positions = _top_level(tokens, lambda t: t.text == ",")
        bounds = [-1, *positions, len(tokens)]
        return [tokens[a + 1:b] for a, b in itertools.pairwise(bounds)]
    names, values = items(left), items(right)
    if not names or not values or len(names) != len(values):
        return {}
    if not all(len(v) == 1 and v[0].kind == "num" and "." not in v[0].text for v in values):
        return {}
    out = {}
    for tokens, value in zip(names, values):
        try:
            node = Parser(tokens, source).parse()
        except NotUnderstood:
            return {}
        if not isinstance(node, Sym) or (not node.name[:1].isupper() and len(names) == 1):
            return {}
        out[node.name] = int(value[0].text)
    return out


def function_head(member: Member, source: str) -> tuple[str, tuple[str, ...]] | None:
    """``J(θ)`` or ``L(\\hat y, y)`` on the left of a definition: the name and its arguments."""
    tokens = member.tokens
    opening = next((i for i, t in enumerate(tokens) if t.text == "(" and t.kind == "char"), None)
    if not opening or _groups(tokens, opening) != len(tokens):
        return None
    try:
        name = Parser(tokens[:opening], source).parse()
    except NotUnderstood:
        return None
    inner = tokens[opening + 1:-1]
    positions = _top_level(inner, lambda t: t.text == ",")
    args = []
    for a, b in itertools.pairwise([-1, *positions, len(inner)]):
        try:
            arg = Parser(inner[a + 1:b], source).parse()
        except NotUnderstood:
            return None
        if not isinstance(arg, Sym):
            return None
        args.append(arg.name)
    return (name.name, tuple(args)) if isinstance(name, Sym) and args else None
