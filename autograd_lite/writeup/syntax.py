"""The math language of writeups: LaTeX tokens, the expression tree, and its parser.

A hand-written recursive-descent parser over LaTeX tokens, not a grammar library: LaTeX math
is juxtaposition-heavy and context-sensitive (``\\sum`` and ``\\frac{d}{dx}`` reach over the
product that follows; whether ``y_i`` is the symbol ``y_i`` or ``y`` indexed by ``i`` depends on
what the writeup declares; ``\\frac{\\partial J}{\\partial x}`` is a derivative and
``\\frac{1}{N}`` a quotient; ``e^{x}`` is exp unless ``e`` is a symbol), and each of those
decisions is one ``if`` here where a context-free grammar would need a custom lexer plus a
post-pass. It also lets every refusal name the construct, and bounds the nesting depth.
Nothing in the input is ever executed: tokens become tree nodes, nothing else.

Grammar (informally; ``[…]`` optional, ``*`` repeated)::

    expression := [+|-] term ((+|-) term)*
    term       := product ((\\circ | \\odot | *) product)*
    product    := factor ((juxtaposition | \\cdot | \\times | /) factor)*
    factor     := primary (^ superscript | _ index | ')*
    primary    := number | symbol | function argument | ( expression ) | { expression }
                | \\frac{…}{…} | \\sqrt{…} | \\sum_… term | \\frac{d}{dx} term | \\nabla_x factor
                | \\partial J / \\partial x | \\mathbf{1}
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_DEPTH = 60
MAX_TOKENS = 4_000


class NotUnderstood(Exception):
    """A piece of math the language does not cover; the reason is shown to the user."""


# ----------------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Token:
    kind: str  # "cmd", "num", "letter", "word", "char", "end"
    text: str
    start: int
    end: int


GREEK = {name: chr(code) for name, code in (
    ("alpha", 0x3B1), ("beta", 0x3B2), ("gamma", 0x3B3), ("delta", 0x3B4), ("epsilon", 0x3B5),
    ("varepsilon", 0x3B5), ("zeta", 0x3B6), ("eta", 0x3B7), ("theta", 0x3B8),
    ("vartheta", 0x3B8), ("iota", 0x3B9), ("kappa", 0x3BA), ("lambda", 0x3BB), ("mu", 0x3BC),
    ("nu", 0x3BD), ("xi", 0x3BE), ("pi", 0x3C0), ("rho", 0x3C1), ("tau", 0x3C4),
    ("upsilon", 0x3C5), ("phi", 0x3C6), ("varphi", 0x3C6), ("chi", 0x3C7), ("psi", 0x3C8),
    ("omega", 0x3C9), ("Gamma", 0x393), ("Delta", 0x394), ("Theta", 0x398), ("Lambda", 0x39B),
    ("Xi", 0x39E), ("Pi", 0x3A0), ("Sigma", 0x3A3), ("Phi", 0x3A6), ("Psi", 0x3A8),
    ("Omega", 0x3A9), ("ell", 0x2113))}
UNICODE = {char: "\\" + name for name, char in GREEK.items() if name not in
           ("varepsilon", "vartheta", "varphi")}
UNICODE.update({"σ": "\\sigma", "−": "-", "×": "\\times", "·": "\\cdot", "∘": "\\circ",
                "⊙": "\\odot", "∂": "\\partial", "∇": "\\nabla", "∑": "\\sum", "ᵀ": "^T",
                "⊤": "\\top"})
FUNCTION_WORDS = {"sign": "sign", "sgn": "sign", "tr": "trace", "trace": "trace",
                  "Tr": "trace", "softmax": "softmax", "sigmoid": "sigma", "ReLU": "relu",
                  "relu": "relu", "Relu": "relu", "CE": "CE", "diag": "diag", "exp": "exp",
                  "log": "log", "ln": "log", "tanh": "tanh", "sigma": "sigma", "sqrt": "sqrt"}
FUNCTION_COMMANDS = {"sigma": "sigma", "tanh": "tanh", "exp": "exp", "log": "log", "ln": "log"}
SPACING = {"\\,", "\\;", "\\:", "\\!", "\\ ", "\\>", "\\displaystyle", "\\textstyle",
           "\\scriptstyle", "\\limits", "\\nolimits", "~", "\\/", "\\middle"}
SIZES = {"\\left", "\\right", "\\big", "\\Big", "\\bigg", "\\Bigg", "\\bigl", "\\bigr", "\\Bigl",
         "\\Bigr", "\\biggl", "\\biggr", "\\Biggl", "\\Biggr", "\\bigm", "\\Bigm"}
STYLES = {"\\mathbf", "\\boldsymbol", "\\bold", "\\bm", "\\vec", "\\mathit", "\\mathsf",
          "\\pmb", "\\mathrm", "\\mathnormal", "\\textbf", "\\textit", "\\mathcal"}
WORDS = {"\\operatorname", "\\text", "\\textrm", "\\mathrm", "\\mbox", "\\textnormal"}
ACCENTS = {"\\hat": "\u0302", "\\widehat": "\u0302", "\\bar": "\u0304", "\\overline": "\u0304",
           "\\tilde": "\u0303", "\\widetilde": "\u0303", "\\check": "\u030c"}
TRANSPARENT = {"\\cancel", "\\bcancel", "\\xcancel", "\\boxed", "\\underbrace", "\\overbrace",
               "\\underset", "\\overset", "\\color"}
OPENERS = {"(": ")", "[": "]", "\\{": "\\}", "\\lbrack": "\\rbrack", "\\lparen": "\\rparen"}
BARS = {"|": "|", "\\|": "\\|", "\\lVert": "\\rVert", "\\lvert": "\\rvert", "\\Vert": "\\Vert",
        "\\vert": "\\vert"}
INDEX_LETTERS = frozenset("ijklmn")
ELEMENTWISE = frozenset({"sigma", "tanh", "exp", "log", "relu", "sqrt", "abs", "sign"})
_TOKEN = re.compile(r"\\([A-Za-z]+|.)|(\d+(?:\.\d+)?)|([A-Za-z])|(\s+)|(.)", re.S)


def tokenize(text: str, offset: int = 0) -> list[Token]:
    """LaTeX math → tokens (spacing dropped, Unicode maths letters mapped to their commands)."""
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        match = _TOKEN.match(text, i)
        assert match is not None
        start, end = offset + match.start(), offset + match.end()
        if match.group(1) is not None:
            name = "\\" + match.group(1)
            if name not in SPACING:
                tokens.append(Token("cmd", name, start, end))
        elif match.group(2) is not None:
            tokens.append(Token("num", match.group(2), start, end))
        elif match.group(3) is not None:
            word = re.match(r"[A-Za-z]+", text[i:])
            assert word is not None
            if word.group(0) in FUNCTION_WORDS:
                tokens.append(Token("word", FUNCTION_WORDS[word.group(0)], start,
                                    offset + i + len(word.group(0))))
                i += len(word.group(0))
                continue
            tokens.append(Token("letter", match.group(3), start, end))
        elif match.group(5) is not None:
            char = match.group(5)
            if char in UNICODE:
                tokens.extend(tokenize(UNICODE[char], start))
                tokens[-1] = Token(tokens[-1].kind, tokens[-1].text, start, end)
            elif char != "~":
                tokens.append(Token("char", char, start, end))
        i = match.end()
        if len(tokens) > MAX_TOKENS:
            raise NotUnderstood(f"more than {MAX_TOKENS} tokens in one equation")
    return tokens


# ------------------------------------------------------------------------------ expression
class Node:
    """An expression. Subclasses are frozen dataclasses: equal trees are equal values."""

    def children(self) -> tuple[Node, ...]:
        return ()


@dataclass(frozen=True)
class Num(Node):
    value: float

    def __str__(self) -> str:
        return f"{self.value:g}"


@dataclass(frozen=True)
class Sym(Node):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Ones(Node):
    def __str__(self) -> str:
        return "𝟏"


@dataclass(frozen=True)
class Kronecker(Node):
    first: str
    second: str

    def __str__(self) -> str:
        return f"δ_{self.first}{self.second}"


@dataclass(frozen=True)
class Unary(Node):
    op: str  # "neg", "T" (transpose), "inv"
    arg: Node

    def children(self) -> tuple[Node, ...]:
        return (self.arg,)

    def __str__(self) -> str:
        if self.op == "neg":
            return f"−{_wrap(self.arg)}"
        inner = f"({self.arg})" if isinstance(self.arg, Binary | Unary) and not (
            isinstance(self.arg, Unary) and self.arg.op != "neg") else str(self.arg)
        return inner + ("ᵀ" if self.op == "T" else "⁻¹")


@dataclass(frozen=True)
class Binary(Node):
    op: str  # "+", "-", "@" (matrix product), "*" (element-wise), "x" (\times), "/", "^"
    left: Node
    right: Node

    def children(self) -> tuple[Node, ...]:
        return (self.left, self.right)

    def __str__(self) -> str:
        symbol = {"+": " + ", "-": " − ", "@": " ", "*": " ∘ ", "x": " × ", "/": "/",
                  "^": "^"}[self.op]
        return f"{_wrap(self.left)}{symbol}{_wrap(self.right)}"


@dataclass(frozen=True)
class Call(Node):
    fn: str
    args: tuple[Node, ...]
    primes: int = 0

    def children(self) -> tuple[Node, ...]:
        return self.args

    def __str__(self) -> str:
        inside = ", ".join(map(str, self.args))
        if self.fn in ("abs", "norm", "norm2"):
            bar = {"abs": "|", "norm": "‖", "norm2": "‖"}[self.fn]
            return f"{bar}{inside}{bar}" + ("₂" if self.fn == "norm2" else "")
        name = {"sigma": "σ", "trace": "tr"}.get(self.fn, self.fn)
        return f"{name}{chr(0x2032) * self.primes}({inside})"


@dataclass(frozen=True)
class Index(Node):
    arg: Node
    indices: tuple[str, ...]

    def children(self) -> tuple[Node, ...]:
        return (self.arg,)

    def __str__(self) -> str:
        return f"{_wrap(self.arg)}_{''.join(self.indices)}"


@dataclass(frozen=True)
class Reduce(Node):
    """``\\sum`` (op "sum") or ``\\max`` (op "max") over ``indices`` (all elements if none),
    each from ``lower`` (1-based) to ``upper`` when given."""

    op: str
    indices: tuple[str, ...]
    body: Node
    lower: Node | None = None
    upper: Node | None = None

    def children(self) -> tuple[Node, ...]:
        return tuple(n for n in (self.body, self.lower, self.upper) if n is not None)

    def __str__(self) -> str:
        sign = "Σ" if self.op == "sum" else "max"
        below = f"_{''.join(self.indices)}" if self.indices else ""
        return f"{sign}{below} {_wrap(self.body)}"


@dataclass(frozen=True)
class Deriv(Node):
    """The derivative of ``of`` (a scalar, or element-wise in ``wrt``) with respect to the
    symbol ``wrt`` (an input or an intermediate)."""

    of: Node
    wrt: Node

    def children(self) -> tuple[Node, ...]:
        return (self.of, self.wrt)

    def __str__(self) -> str:
        of, wrt = (text if len(text) < 4 else f"({text})" for text in (str(self.of),
                                                                      str(self.wrt)))
        return f"∂{of}/∂{wrt}"


def _wrap(node: Node) -> str:
    text = str(node)
    if (isinstance(node, Binary) and node.op in "+-*x") or (isinstance(node, Unary) and \
            node.op == "neg"):
        return f"({text})"
    return text


def walk(node: Node):
    yield node
    for child in node.children():
        yield from walk(child)


def free_indices(node: Node) -> set[str]:
    """Index letters used in ``node`` and not bound by a ``\\sum``/``\\max`` inside it."""
    if isinstance(node, Index):
        return set(node.indices) | free_indices(node.arg)
    if isinstance(node, Kronecker):
        return {node.first, node.second}
    if isinstance(node, Reduce):
        return free_indices(node.body) - set(node.indices)
    out: set[str] = set()
    for child in node.children():
        out |= free_indices(child)
    return out


# ---------------------------------------------------------------------------------- parser
class Parser:
    """Parses one side of an equation (a token list) into a :class:`Node`."""

    def __init__(self, tokens: list[Token], source: str, known: frozenset[str] = frozenset(),
                 size_names: frozenset[str] = frozenset(),
                 functions: dict[str, tuple[str, ...]] | None = None) -> None:
        self.tokens = tokens
        self.source = source
        self.known = known
        self.size_names = size_names
        self.functions = functions or {}
        self.pos = 0
        self.depth = 0
        self.bound: list[str] = []
        self.open_bars: list[str] = []

    # -- helpers
    def peek(self, ahead: int = 0) -> Token:
        i = self.pos + ahead
        return self.tokens[i] if i < len(self.tokens) else Token("end", "", -1, -1)

    def take(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def at(self, *texts: str) -> bool:
        token = self.peek()
        return token.kind != "end" and token.text in texts and token.kind in ("cmd", "char")

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            found = token.text or "the end"
            raise NotUnderstood(f"expected '{text}' but found '{found}'")

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise NotUnderstood(f"nested more than {MAX_DEPTH} deep")

    def parse(self) -> Node:
        node = self.expression()
        self.skip_trailing()
        if self.peek().kind != "end":
            raise NotUnderstood(f"did not understand '{self.peek().text}' here")
        return node

    def skip_trailing(self) -> None:
        while self.at(".", ",", "\\quad", "\\qquad"):
            self.take()
        if self.at("\\tag", "\\label", "\\nonumber", "\\notag"):
            token = self.take()
            if token.text in ("\\tag", "\\label"):
                self.group_tokens()

    def group_tokens(self) -> list[Token]:
        """The tokens of a ``{…}`` group (or one token), consumed."""
        if not self.at("{"):
            token = self.take()
            if token.kind == "end":
                raise NotUnderstood("an argument is missing at the end")
            return [token]
        self.take()
        depth, start = 1, self.pos
        while True:
            token = self.take()
            if token.kind == "end":
                raise NotUnderstood("an unclosed '{'")
            if token.text == "{" and token.kind == "char":
                depth += 1
            elif token.text == "}" and token.kind == "char":
                depth -= 1
                if depth == 0:
                    return self.tokens[start:self.pos - 1]

    def sub_parser(self, tokens: list[Token]) -> Parser:
        parser = Parser(tokens, self.source, self.known, self.size_names, self.functions)
        parser.depth, parser.bound = self.depth, list(self.bound)
        return parser

    def group(self) -> Node:
        parser = self.sub_parser(self.group_tokens())
        return parser.parse()

    def raw(self, tokens: list[Token]) -> str:
        if not tokens:
            return ""
        return self.source[tokens[0].start:tokens[-1].end]

    # -- grammar
    def expression(self) -> Node:
        self.enter()
        sign = None
        if self.at("+", "-"):
            sign = self.take().text
        node = self.term()
        if sign == "-":
            node = Unary("neg", node)
        while self.at("+", "-", "\\pm", "\\mp"):
            op = self.take().text
            if op in ("\\pm", "\\mp"):
                raise NotUnderstood("± is two equations; write each")
            node = Binary(op, node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.product()
        while self.at("\\circ", "\\odot", "*"):
            self.take()
            node = Binary("*", node, self.product())
        return node

    def starts_factor(self) -> bool:
        token = self.peek()
        if token.kind in ("num", "letter", "word"):
            return True
        if token.kind == "char":
            return token.text in "([{" or (token.text in BARS and token.text not in
                                            self.open_bars)
        if token.kind == "cmd":
            return (token.text not in ("\\circ", "\\odot", "\\cdot", "\\times", "\\in", "\\right",
                                      "\\quad", "\\qquad", "\\tag", "\\label", "\\nonumber",
                                      "\\notag", "\\}", "\\rbrack", "\\rparen", "\\pm", "\\mp",
                                      "\\bigr", "\\Bigr", "\\biggr", "\\Biggr", "\\big",
                                      "\\Big", "\\bigg", "\\Bigg", "\\rVert", "\\rvert") \
                and token.text not in self.open_bars) or self.sized_opener()
        return False

    def sized_opener(self) -> bool:
        token, after = self.peek(), self.peek(1)
        return token.text in SIZES and token.text not in ("\\right",) and \
            not token.text.endswith("r") and after.text in (*OPENERS, *BARS, "(", "[") and \
            after.text not in self.open_bars

    def product(self) -> Node:
        node = self.factor()
        while True:
            if self.at("\\cdot", "\\times", "/"):
                op = {"\\cdot": "@", "\\times": "x", "/": "/"}[self.take().text]
                node = Binary(op, node, self.factor())
            elif self.starts_factor():
                node = Binary("@", node, self.factor())
            else:
                return node

    def factor(self) -> Node:
        self.enter()
        if self.at("-"):  # a \cdot -b, a / -b
            self.take()
            node: Node = Unary("neg", self.factor())
        else:
            node = self.postfix(self.primary())
        self.depth -= 1
        return node

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at("^"):
                self.take()
                node = self.superscript(node)
            elif self.at("_"):
                self.take()
                tokens = self.group_tokens()
                node = Index(node, self.index_letters(tokens, force=True))
            elif self.at("'"):
                raise NotUnderstood(f"a prime on '{node}', which is not a known function")
            else:
                return node

    def superscript(self, node: Node) -> Node:
        tokens = self.group_tokens()
        text = "".join(t.text for t in tokens)
        if text in ("T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}"):
            return Unary("T", node)
        if tokens and tokens[0].text in ("(", "[", "\\langle") and \
                tokens[-1].text in (")", "]", "\\rangle"):
            # a layer or time index, W^{[1]}, a^{(2)}, h^{\langle t \rangle}: part of the name
            label = "^" + "".join(t.text for t in tokens).replace("\\langle", "<").replace(
                "\\rangle", ">")
            if isinstance(node, Sym):
                return self.continue_symbol(node.name + label)
            if isinstance(node, Index) and isinstance(node.arg, Sym):
                return Index(Sym(node.arg.name + label), node.indices)
            raise NotUnderstood(f"a superscript {self.raw(tokens)} on '{node}'")
        if text == "-1":
            return Unary("inv", node)
        if text in ("\\prime", "'"):
            raise NotUnderstood(f"a prime on '{node}', which is not a known function")
        return Binary("^", node, self.sub_parser(tokens).parse())

    def index_letters(self, tokens: list[Token], force: bool = False) -> tuple[str, ...]:
        letters = [t.text for t in tokens if t.text != ","]
        if not letters or any(len(x) != 1 or not x.isalpha() for x in letters):
            raise NotUnderstood(f"the subscript '{self.raw(tokens)}' is not an index (letters)")
        return tuple(letters)

    def is_index(self, letters: list[str]) -> bool:
        return bool(letters) and all(x in INDEX_LETTERS or x in self.bound for x in letters)

    # -- primaries
    def primary(self) -> Node:
        token = self.peek()
        if token.kind == "end":
            raise NotUnderstood("an expression is missing")
        if token.kind == "num":
            self.take()
            return Num(float(token.text))
        if token.kind == "letter":
            self.take()
            if token.text == "e" and self.at("^") and "e" not in self.known:
                self.take()
                exponent = self.sub_parser(self.group_tokens()).parse()
                if isinstance(exponent, Index) and not isinstance(exponent.arg, Deriv):
                    return Index(Call("exp", (exponent.arg,)), exponent.indices)
                return Call("exp", (exponent,))
            return self.symbol(token.text)
        if token.kind == "word":
            self.take()
            return self.call(token.text)
        if token.kind == "char":
            if token.text in "([" or token.text == "|":
                if token.text == "|" and "|" in self.open_bars:
                    raise NotUnderstood("nested bars |…|…| are ambiguous; use \\lvert … "
                                        "\\rvert")
                return self.parenthesised()
            if token.text == "{":
                return self.group()
            raise NotUnderstood(f"did not understand '{token.text}' here")
        return self.command()

    def parenthesised(self) -> Node:
        size = None
        if self.peek().text in SIZES:
            size = self.take().text
        opener = self.take().text
        if opener in BARS:
            return self.bars(opener)
        if opener == "." and size == "\\left":
            raise NotUnderstood("\\left. … \\right| (evaluation bars) is not supported")
        closer = OPENERS.get(opener)
        if closer is None:
            raise NotUnderstood(f"did not understand '{opener}' after {size}")
        node = self.expression()
        if self.at(","):
            raise NotUnderstood("a tuple or a call of a function that is not known "
                                "(a comma inside parentheses)")
        if self.peek().text in SIZES:
            self.take()
        found = self.take().text
        if found != closer and not (closer in ")]" and found in ")]"):
            raise NotUnderstood(f"'{opener}' closed by '{found or 'nothing'}'")
        return node

    def bars(self, opener: str) -> Node:
        """``|x|`` (element-wise absolute value) and ``\\|x\\|`` (the 2-norm of a vector, the
        Frobenius norm of a matrix; ``_2`` only for a vector, ``_F``)."""
        closer = BARS[opener]
        if closer in self.open_bars:
            raise NotUnderstood("nested bars |…|…| are ambiguous; use \\lvert … \\rvert")
        self.open_bars.append(closer)
        node = self.expression()
        self.open_bars.pop()
        if self.peek().text in SIZES:
            self.take()
        found = self.take().text
        if found != closer:
            raise NotUnderstood(f"'{opener}' closed by '{found or 'nothing'}'")
        if closer == "|" or closer == "\\rvert":
            return Call("abs", (node,))
        which = "F"
        if self.at("_"):
            self.take()
            which = "".join(t.text for t in self.group_tokens())
            if which not in ("F", "2"):
                raise NotUnderstood(f"the norm ‖…‖_{which} (only ‖…‖, ‖…‖_2 of a vector and "
                                    "‖…‖_F)")
        return Call("norm" if which == "F" else "norm2", (node,))

    def call_arguments(self) -> tuple[Node, ...]:
        """``( a, b, … )`` in any size of parentheses."""
        if self.peek().text in SIZES:
            self.take()
        opener = self.take().text
        closer = OPENERS.get(opener, ")")
        args = [self.expression()]
        while self.at(","):
            self.take()
            args.append(self.expression())
        if self.peek().text in SIZES:
            self.take()
        found = self.take().text
        if found != closer and not (closer in ")]" and found in ")]"):
            raise NotUnderstood(f"'{opener}' closed by '{found or 'nothing'}'")
        return tuple(args)

    def at_parenthesis(self) -> bool:
        return self.at("(", "[", "\\{") or self.sized_opener()

    def call(self, fn: str) -> Node:
        primes = 0
        while self.at("'"):
            self.take()
            primes += 1
        if self.at("^"):
            self.take()
            tokens = self.group_tokens()
            if "".join(t.text for t in tokens) == "\\prime":
                primes += 1
            else:
                raise NotUnderstood(f"a power of the function {fn} written before its argument")
        if self.at_parenthesis():
            args = self.call_arguments()
        elif fn in ("log", "exp", "sigma", "tanh", "softmax", "relu", "sqrt", "sign"):
            if self.at("{"):
                args = (self.group(),)
            elif self.peek().kind == "end" or not self.starts_factor():
                raise NotUnderstood(f"{fn} without an argument")
            else:
                args = (self.postfix(self.primary()),)
        else:
            raise NotUnderstood(f"{fn} without its argument in parentheses")
        if primes and fn not in ("sigma", "tanh", "exp", "log", "relu"):
            raise NotUnderstood(f"{fn}' (the derivative of {fn} as a function) is not supported")
        if primes > 1:
            raise NotUnderstood("second and higher derivatives are not supported")
        if fn in ELEMENTWISE and len(args) == 1 and isinstance(args[0], Index) and \
                not isinstance(args[0].arg, Deriv):
            # f(x_i) is f(x)_i for an element-wise f: one node for σ(Z) and its elements
            return Index(self.call_node(fn, args[0].arg, primes), args[0].indices)
        if fn == "sqrt":
            return Binary("^", args[0], Num(0.5))
        if fn in ("CE",) and len(args) != 2:
            raise NotUnderstood("CE takes two arguments, CE(y, ŷ)")
        if fn not in ("CE",) and len(args) != 1:
            if fn == "max":
                raise NotUnderstood("max of several arguments is not supported")
            raise NotUnderstood(f"{fn} takes one argument")
        return Call(fn, args, primes)

    @staticmethod
    def call_node(fn: str, arg: Node, primes: int) -> Node:
        return Binary("^", arg, Num(0.5)) if fn == "sqrt" else Call(fn, (arg,), primes)

    def symbol(self, base: str) -> Node:
        """A symbol: ``base`` with its accents applied, then a subscript (part of the name, or
        indices) and primes."""
        name = base
        if self.at("_"):
            self.take()
            tokens = self.group_tokens()
            sub = self.subscript_text(tokens)
            letters = [t.text for t in tokens if t.text != ","]
            full = f"{name}_{sub}"
            if full not in self.known and all(t.kind == "letter" or t.text == "," for t in tokens) \
                    and self.is_index(letters):
                node: Node = Sym(name)
                if base == "δ" and len(letters) == 2:
                    return Kronecker(letters[0], letters[1])
                return Index(node, tuple(letters))
            used = {t.text for t in tokens if t.kind == "letter"}
            if used & set(self.bound):
                raise NotUnderstood(f"{name}_{{{sub}}} depends on the index "
                                    f"{sorted(used & set(self.bound))[0]} through its name; "
                                    "such sums are not supported")
            if "," in sub:
                head, _, rest = sub.partition(",")
                rest_letters = [x.strip() for x in rest.split(",")]
                if self.is_index(rest_letters):
                    return Index(Sym(f"{name}_{head}"), tuple(rest_letters))
            name = full
        while self.at("'"):
            self.take()
            name += "′"
        return self.applied(name)

    def applied(self, name: str) -> Node:
        """``J(θ)`` where the writeup defines ``J(θ) = …``: the symbol J."""
        if name in self.functions and self.at_parenthesis():
            args = self.call_arguments()
            wanted = self.functions[name]
            if tuple(str(a) for a in args) != wanted:
                raise NotUnderstood(f"{name}({', '.join(map(str, args))}): {name} is defined at "
                                    f"({', '.join(wanted)}) only; evaluating it elsewhere is "
                                    "not supported")
        return Sym(name)

    def subscript_text(self, tokens: list[Token]) -> str:
        parts = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.kind == "cmd" and token.text in WORDS | STYLES:
                inner = []
                i += 1
                if i < len(tokens) and tokens[i].text == "{":
                    depth = 1
                    i += 1
                    while i < len(tokens) and depth:
                        depth += {"{": 1, "}": -1}.get(tokens[i].text, 0)
                        if depth:
                            inner.append(tokens[i])
                        i += 1
                parts.append(self.raw(inner).replace(" ", ""))
                continue
            if token.kind == "cmd":
                name = token.text[1:]
                parts.append(GREEK.get(name, name))
            elif token.text not in "{}":
                parts.append(token.text)
            i += 1
        return "".join(parts)

    def command(self) -> Node:
        token = self.peek()
        name = token.text
        if name in SIZES or name in ("\\{", "\\lbrack", "\\lparen") or (
                name in BARS and name not in self.open_bars):
            return self.parenthesised()
        self.take()
        bare = name[1:]
        if bare in FUNCTION_COMMANDS:
            return self.call(FUNCTION_COMMANDS[bare])
        if bare in GREEK:
            return self.symbol(GREEK[bare])
        if name in ("\\frac", "\\dfrac", "\\tfrac"):
            return self.fraction()
        if name == "\\sqrt":
            if self.at("["):
                raise NotUnderstood("\\sqrt[n] (an n-th root) is not supported")
            return Binary("^", self.group(), Num(0.5))
        if name in ("\\sum", "\\max"):
            return self.reduction(bare)
        if name == "\\nabla":
            if not self.at("_"):
                raise NotUnderstood("∇ without a variable (\\nabla_x J)")
            self.take()
            wrt = self.sub_parser(self.group_tokens()).parse()
            return self.derivative(self.factor(), wrt)
        if name == "\\partial":
            of = self.postfix(self.primary())
            if not self.at("/"):
                raise NotUnderstood("∂ outside a derivative (write \\frac{\\partial J}"
                                    "{\\partial x} or \\partial J/\\partial x)")
            self.take()
            self.expect("\\partial")
            wrt = self.postfix(self.primary())
            return self.derivative(of, wrt)
        if name in STYLES or name in WORDS:
            tokens = self.group_tokens()
            text = self.raw(tokens).strip()
            if text in FUNCTION_WORDS:
                return self.call(FUNCTION_WORDS[text])
            if text in ("max",):
                return self.reduction("max")
            if text == "1" and name not in WORDS:
                return Ones()
            if name == "\\mathcal":
                inner = self.sub_parser(tokens).parse()
                if not isinstance(inner, Sym) or not ("A" <= inner.name[:1] <= "Z"):
                    raise NotUnderstood("\\mathcal around something other than a capital")
                script = chr(0x1D4D0 + ord(inner.name[0]) - ord("A")) + inner.name[1:]
                return self.continue_symbol(script)
            if name in ("\\text", "\\textrm", "\\mbox", "\\textnormal") or \
                    name == "\\operatorname":
                if name != "\\operatorname" and " " in text.strip():
                    raise NotUnderstood(f"prose inside an expression ({name}{{{text}}}) has no "
                                        "value")
                raise NotUnderstood(f"'{text}' is not a known function or symbol")
            inner = self.sub_parser(tokens).parse()
            if isinstance(inner, Sym):
                return self.continue_symbol(inner.name)
            if isinstance(inner, Index) and isinstance(inner.arg, Sym):
                return inner
            raise NotUnderstood(f"{name}{{…}} around something other than a symbol")
        if name in ACCENTS:
            inner = self.sub_parser(self.group_tokens()).parse()
            if not isinstance(inner, Sym):
                raise NotUnderstood(f"{name} over something other than a symbol")
            return self.continue_symbol(inner.name + ACCENTS[name])
        if name in TRANSPARENT:
            if name == "\\color":
                self.group_tokens()
            if name in ("\\underset", "\\overset"):
                self.group_tokens()
            node = self.group()
            if name in ("\\underbrace", "\\overbrace") and self.at("_", "^"):
                self.take()
                self.group_tokens()
            return node
        if name == "\\mathbb":
            if self.raw(self.group_tokens()).strip() == "1":
                return Ones()
            raise NotUnderstood("a set (\\mathbb) inside an expression")
        raise NotUnderstood(f"the command {name} is not part of the math language")

    def continue_symbol(self, name: str) -> Node:
        """A styled or accented symbol, followed perhaps by its own subscript and primes."""
        if "_" in name:
            while self.at("'"):
                self.take()
                name += "′"
            return self.applied(name)
        return self.symbol(name)

    def fraction(self) -> Node:
        numerator, denominator = self.group_tokens(), self.group_tokens()
        kind = self.derivative_kind(numerator, denominator)
        if kind is None:
            return Binary("/", self.sub_parser(numerator).parse(),
                          self.sub_parser(denominator).parse())
        skip_num, skip_den = kind
        wrt = self.sub_parser(denominator[skip_den:]).parse()
        rest = numerator[skip_num:]
        if rest and rest[0].text == "^":
            raise NotUnderstood("second and higher derivatives are not supported")
        if rest:
            of = self.sub_parser(rest).parse()
        else:  # an operator: reaches over the product that follows
            if not self.starts_factor():
                raise NotUnderstood("d/dx applied to nothing")
            of = self.term()
        return self.derivative(of, wrt)

    @staticmethod
    def derivative_kind(numerator: list[Token], denominator: list[Token]
                        ) -> tuple[int, int] | None:
        """How many tokens the d or ∂ takes in the numerator and the denominator, or None if
        the fraction is a quotient."""
        def marker(tokens: list[Token]) -> int | None:
            if tokens and tokens[0].text == "\\partial":
                return 1
            if tokens and tokens[0].text == "d" and tokens[0].kind == "letter":
                return 1
            if len(tokens) >= 4 and tokens[0].text == "\\mathrm" and tokens[2].text == "d":
                return 4
            return None
        den = marker(denominator)
        num = marker(numerator)
        if den is None or num is None or len(denominator) <= den:
            return None
        if (numerator[0].text == "\\partial") != (denominator[0].text == "\\partial"):
            return None
        return num, den

    def derivative(self, of: Node, wrt: Node) -> Node:
        if isinstance(wrt, Index) and isinstance(wrt.arg, Sym):
            return Index(Deriv(of, wrt.arg), wrt.indices)
        if free_indices(wrt) or isinstance(wrt, Num):
            raise NotUnderstood(f"a derivative with respect to '{wrt}', which is neither a "
                                "symbol nor an expression of symbols")
        return Deriv(of, wrt)

    def reduction(self, op: str) -> Node:
        indices: tuple[str, ...] = ()
        lower = upper = None
        if self.at("_"):
            self.take()
            tokens = self.group_tokens()
            if any(t.text in (":", "\\in", "\\neq", "\\ne", "<", ">", "\\mid", "|")
                   for t in tokens):
                raise NotUnderstood(f"a {op} over a condition ('{self.raw(tokens)}')")
            if any(t.text == "=" for t in tokens):
                split = next(i for i, t in enumerate(tokens) if t.text == "=")
                indices = self.index_letters(tokens[:split])
                lower = self.sub_parser(tokens[split + 1:]).parse()
            else:
                indices = self.index_letters(tokens)
        if self.at("^"):
            self.take()
            upper = self.sub_parser(self.group_tokens()).parse()
        if lower is not None and lower != Num(1.0):
            raise NotUnderstood(f"a {op} that does not start at 1")
        self.bound.extend(indices)
        if op == "max" and self.at_parenthesis() and not indices:
            args = self.call_arguments()
            if len(args) == 2 and Num(0.0) in args:
                node: Node = Call("relu", (args[1] if args[0] == Num(0.0) else args[0],))
                del self.bound[len(self.bound) - len(indices):]
                return node
            raise NotUnderstood("max of several arguments is not supported")
        body = self.term()
        if indices:
            del self.bound[len(self.bound) - len(indices):]
        return Reduce(op, indices, body, lower, upper)
