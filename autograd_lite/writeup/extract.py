"""Find the math of a Markdown or LaTeX writeup and cut it into equations.

Math is what stands in ``$…$``, ``$$…$$``, ``\\(…\\)``, ``\\[…\\]`` and the ``equation``,
``align``, ``split``, ``gather`` environments (and ``multline``, ``aligned``, ``gathered``;
starred or not). Prose, Markdown code (fenced or inline) and LaTeX comments are ignored. Every
piece keeps its offset in the file, so each ``=`` can be reported with its 1-based line.

A display is cut into rows at ``\\\\``; ``&`` is dropped. A row is cut into equations at
``\\Rightarrow``, ``\\implies``, ``\\therefore`` (and their long forms), and at a top-level comma
or ``\\quad`` that stands between two equations (``z = xW, \\quad h = σ(z)``). A row or display
that begins with ``=`` continues the equation before it.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field

MAX_BYTES = 1_000_000
MAX_EQUATIONS = 2_000

ENVIRONMENTS = ("equation", "align", "split", "gather", "multline", "eqnarray", "alignat",
                "flalign")
INNER_ENVIRONMENTS = ("aligned", "gathered", "split", "alignedat", "array")
# Commands that include, define or run something: refused wherever they stand.
REFUSED = ("input", "include", "def", "edef", "gdef", "xdef", "newcommand", "renewcommand",
           "providecommand", "DeclareMathOperator", "let", "catcode", "write", "immediate",
           "openin", "openout", "read", "csname", "expandafter", "usepackage", "write18",
           "newenvironment", "renewenvironment", "includegraphics", "verbatiminput",
           "lstinputlisting")
SEPARATORS = ("\\Rightarrow", "\\implies", "\\therefore", "\\Longrightarrow", "\\Leftrightarrow",
              "\\iff", "\\longrightarrow", "\\quad\\text{and}\\quad", "\\text{and}")


@dataclass
class Piece:
    """A stretch of math text with the offset in the file of its first character."""

    text: str
    start: int

    def strip(self) -> Piece:
        left = len(self.text) - len(self.text.lstrip())
        return Piece(self.text.strip(), self.start + left)


@dataclass
class Equation:
    """One equation (or declaration, or chain) to read: its pieces of math text, joined in
    order (a chain continued over rows has several), and whether it stands in a display."""

    pieces: list[Piece] = field(default_factory=list)
    display: bool = True

    @property
    def text(self) -> str:
        return " ".join(p.text for p in self.pieces)


@dataclass
class Refusal:
    """Something refused outright (a command that includes or defines), with its offset."""

    text: str
    start: int
    reason: str


class LineIndex:
    """Offsets → 1-based line numbers."""

    def __init__(self, text: str) -> None:
        self.newlines = [i for i, ch in enumerate(text) if ch == "\n"]

    def line(self, offset: int) -> int:
        return bisect.bisect_right(self.newlines, offset - 1) + 1


def _blank(text: str, start: int, end: int) -> str:
    """Replace text[start:end] by spaces, keeping newlines (offsets and lines stay right)."""
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def _mask_markdown_code(text: str) -> str:
    for match in list(re.finditer(r"^(```|~~~).*?^\1[^\n]*$", text, re.S | re.M)):
        text = _blank(text, match.start(), match.end())
    for match in list(re.finditer(r"(`+)(?!`).+?(?<!`)\1(?!`)", text)):
        text = _blank(text, match.start(), match.end())
    return text


def _mask_tex_comments(text: str) -> str:
    for match in list(re.finditer(r"(?<!\\)%[^\n]*", text)):
        text = _blank(text, match.start(), match.end())
    return text


_MATH = re.compile(
    r"\$\$(?P<dd>.+?)\$\$"
    r"|\\\[(?P<br>.+?)\\\]"
    r"|\\\((?P<pa>.+?)\\\)"
    r"|\\begin\{(?P<env>(?:" + "|".join(ENVIRONMENTS) + r")\*?)\}(?P<body>.*?)\\end\{(?P=env)\}"
    r"|(?<![\\$])\$(?!\$)(?P<d>(?:(?!\n[ \t]*\n)[^$])+?)(?<!\\)\$", re.S)


def find_math(text: str, tex: bool) -> tuple[list[tuple[Piece, bool]], list[Refusal]]:
    """The math blocks of ``text`` (each a Piece and whether it is displayed) and the refused
    commands found anywhere in it."""
    masked = _mask_tex_comments(text) if tex else _mask_markdown_code(text)
    begin = re.search(r"\\begin\{document\}", masked) if tex else None
    if begin:  # the preamble (packages, macros) is not read
        masked = _blank(masked, 0, begin.end())
    refusals = [Refusal(m.group(0), m.start(), f"\\{m.group(1)} is refused: a writeup is read, "
                        "never run; nothing is included and no macro is defined or expanded")
                for m in re.finditer(r"\\(" + "|".join(REFUSED) + r")(?![A-Za-z])", masked)]
    blocks: list[tuple[Piece, bool]] = []
    for match in _MATH.finditer(masked):
        for group, display in (("dd", True), ("br", True), ("pa", False), ("body", True),
                               ("d", False)):
            if match.group(group) is not None:
                blocks.append((Piece(text[match.start(group):match.end(group)],
                                     match.start(group)), display))
                break
    return blocks, refusals


def _top_level_splits(text: str, pattern: str) -> list[tuple[int, int]]:
    """Spans of ``pattern`` in ``text`` outside braces, brackets and parentheses."""
    spans = []
    depth = 0
    i = 0
    regex = re.compile(pattern)
    while i < len(text):
        if depth == 0:
            match = regex.match(text, i)
            if match and match.end() > i:
                spans.append((match.start(), match.end()))
                i = match.end()
                continue
        ch = text[i]
        if ch == "\\":
            command = re.match(r"\\([A-Za-z]+|.)", text[i:i + 40], re.S)
            name = command.group(1) if command else ""
            depth += 1 if name == "{" else -1 if name == "}" and depth else 0
            i += len(command.group(0)) if command else 1
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth = max(0, depth - 1)
        i += 1
    return spans


def _split(piece: Piece, pattern: str) -> list[Piece]:
    parts = []
    last = 0
    for start, end in _top_level_splits(piece.text, pattern):
        parts.append(Piece(piece.text[last:start], piece.start + last))
        last = end
    parts.append(Piece(piece.text[last:], piece.start + last))
    return parts


def _has_relation(text: str) -> bool:
    return bool(_top_level_splits(text, r"=|\\in(?![A-Za-z])"))


def rows(block: Piece) -> list[Piece]:
    """A math block cut into rows at ``\\\\``, without ``&`` and inner environment markers."""
    text = re.sub(r"(?<!\\)%[^\n]*", lambda m: " " * len(m.group(0)), block.text)
    inner = "|".join(INNER_ENVIRONMENTS)
    text = re.sub(r"\\(begin|end)\{(" + inner + r")\*?\}(\{[^}]*\})?",
                  lambda m: " " * len(m.group(0)), text)
    text = re.sub(r"(?<!\\)&", " ", text)
    return [p for p in _split(Piece(text, block.start), r"\\\\(\[[^\]]*\])?") if p.text.strip()]


def equations_of_row(row: Piece) -> list[Piece]:
    """A row cut into equations at implication arrows, and at top-level commas and quads that
    stand between two equations."""
    parts = _split(row, "|".join(re.escape(s) + r"(?![A-Za-z])" for s in SEPARATORS))
    out: list[Piece] = []
    for part in parts:
        pieces = _split(part, r",|\\q?quad(?![A-Za-z])|;")
        current: Piece | None = None
        for piece in pieces:
            if not piece.text.strip():
                continue  # between a comma and a quad
            if current is None:
                current = piece
            elif _has_relation(piece.text) and _has_relation(current.text):
                out.append(current)
                current = piece
            else:  # glue it back (a comma inside an expression, a quad before an annotation)
                gap = row.text[current.start - row.start + len(current.text):
                               piece.start - row.start]
                current = Piece(current.text + gap + piece.text, current.start)
        if current is not None:
            out.append(current)
    return [p.strip() for p in out if p.text.strip()]


def equations(text: str, tex: bool) -> tuple[list[Equation], list[Refusal]]:
    """The equations of a writeup, in order, continuation rows (``= …``, ``&= …``) joined to the
    equation before them."""
    blocks, refusals = find_math(text, tex)
    found: list[Equation] = []
    for block, display in blocks:
        for row in rows(block):
            for piece in equations_of_row(row):
                if piece.text.startswith("=") and found and found[-1].display and display:
                    found[-1].pieces.append(piece)
                else:
                    found.append(Equation([piece], display))
                if len(found) > MAX_EQUATIONS:
                    return found, refusals + [Refusal(
                        "", piece.start, f"more than {MAX_EQUATIONS} equations: the rest of the "
                        "writeup is not read")]
    return found, refusals


def title(text: str, tex: bool) -> str | None:
    """The writeup's first heading (Markdown ``#``, LaTeX ``\\title``/``\\section``)."""
    if tex:
        match = re.search(r"\\(?:title|section\*?)\{([^}]*)\}", text)
    else:
        match = re.search(r"^#{1,6}\s+(.+?)\s*#*\s*$", _mask_markdown_code(text), re.M)
    return match.group(1).strip() if match else None
