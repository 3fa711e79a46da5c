"""Draw what the tape recorded: :func:`to_dot` builds a ``graphviz.Digraph``, :func:`render`
writes it as SVG, PNG, PDF or DOT.

Each recorded op is one box, labelled by what it computes from its operands' names (``x·W1 +
b1``, ``σ(h)``, ``log(…)``), with its settings, shape, dtype and, once known, its gradient's
shape and norm; the output also shows its value when it is a scalar (the loss). Leaves that
require grad are blue; leaves that do not (data such as X or one-hot labels) and constant
arrays are grey and dashed, with no gradient; named intermediates are yellow, the output green
with a double border. Scalar constants appear in their consumer's label, not as boxes.
Highlighted tensors (the verifier's failing targets) are red, with the whole reason in a note
beside them. Sub-graphs that repeat (the same ops on the same kinds of operands, e.g. one per
word of a window) are framed as numbered clusters, and the layout runs top to bottom or left to
right, whichever fits a 1920 × 1080 screen better (a graph a little larger is scaled to fit).

Identical graphs give identical DOT text. User text only ever appears HTML-escaped inside
HTML-like labels, so no name can break or inject into the DOT; every label stays below
Graphviz's 16 kB limit. :func:`render` refuses graphs of more than :data:`RENDER_LIMIT`
vertices or :data:`EDGE_LIMIT` edges, output paths it cannot write, and stops ``dot`` after
:data:`RENDER_SECONDS`.
"""

from __future__ import annotations

import heapq
import html
import inspect
import os
import re
import shutil
import subprocess
import textwrap
from collections import Counter, defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autograd_lite.errors import GraphError, GraphvizNotFoundError
from autograd_lite.tensor import Node, Tensor

# dot lays out a few thousand vertices or edges at most in reasonable time and legibly.
RENDER_LIMIT = 2000  # vertices
EDGE_LIMIT = 4000  # edges (after parallel edges are merged)
RENDER_SECONDS = 120  # dot is stopped after this long
LABEL_BYTES = 16_000  # Graphviz refuses a label longer than 16,384 bytes
NAME_CHARS = 40  # characters of a name shown in a box
EXPRESSION_CHARS = 40  # characters of a computed-expression label
SETTINGS_CHARS = 60
TITLE_CHARS = 160
NOTE_CHARS = 1_200  # characters of a highlight's reason (the whole of any diagnosis)
NOTE_WIDTH = 56
BACKSLASH = "&#92;&#92;"
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

STYLES = {
    "input": {"shape": "box", "style": "rounded,filled", "fillcolor": "#cfe2ff"},
    "constant": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#eeeeee",
                 "fontcolor": "#495057"},
    "named": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fff3bf"},
    "intermediate": {"shape": "box", "style": "rounded", "fillcolor": "white"},
    "output": {"shape": "box", "style": "rounded,filled", "fillcolor": "#d3f9d8",
               "peripheries": "2"},
    "failed": {"color": "#e03131", "penwidth": "3", "fillcolor": "#ffe3e3"},
    "note": {"shape": "note", "style": "filled", "fillcolor": "#fff5f5", "color": "#e03131"},
}
MIN_REPEAT = 3  # ops in a repeated sub-graph worth framing
SCREEN = (1920, 1080)  # pixels (at 96 dpi) the layout is chosen to fit (rankdir TB or LR)
MAX_SHRINK = 1.4  # a graph estimated at most this much larger than SCREEN is scaled to fit
CLUSTER_COLOURS = ("#f3f0ff", "#e6fcf5", "#fff4e6", "#e7f5ff", "#fff0f6", "#f4fce3")
# How ops read in labels: infix operators with their precedence, and short function names.
INFIX = {"add": (" + ", 1), "sub": (" − ", 1), "mul": (" ∘ ", 2), "div": (" / ", 2),
         "matmul": ("·", 2), "pow": ("^", 4)}
SHORT_NAMES = {"sigmoid": "σ", "softmax_cross_entropy": "CE"}
ATOM = 9
_DEFAULTS: dict[Any, dict[str, Any]] = {}  # an op's forward -> its keyword defaults
_NEEDS_ESCAPES = re.compile(r"[\\\x00-\x1f\x7f]")


def text(value: Any) -> str:
    """``value`` as text safe inside an HTML-like label: markup characters become entities,
    backslashes and control characters become visible escapes. Graphviz decodes entities before
    it expands escapes such as \\N, so a backslash is written as two (``&#92;&#92;``)."""
    escaped = html.escape(str(value), quote=True)
    if not _NEEDS_ESCAPES.search(escaped):
        return escaped
    out = []
    for ch in escaped:
        if ch == "\\":
            out.append(BACKSLASH)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"{BACKSLASH}x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def clip(value: Any, limit: int) -> str:
    """``value`` as a string of at most ``limit`` characters (cut with …)."""
    value = str(value)
    return value if len(value) <= limit else value[:limit - 1] + "…"


def _label(lines: list[str], bold_first: bool = True, align: str | None = None) -> str:
    """An HTML-like table label of already-escaped lines, kept under Graphviz's limit."""
    rows = []
    cell = f'<TD ALIGN="{align}">' if align else "<TD>"
    for i, line in enumerate(lines):
        content = f"<B>{line}</B>" if i == 0 and bold_first else line
        rows.append(f"<TR>{cell}{content}</TD></TR>")
    label = f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="0">{"".join(rows)}</TABLE>>'
    if len(label.encode("utf-8")) > LABEL_BYTES:  # (the clipping above makes this rare)
        return _label([text("(label too long to draw)")])
    return label


def _small(line: str, colour: str = "#495057") -> str:
    return f'<FONT POINT-SIZE="9" COLOR="{colour}">{line}</FONT>'


def _gradient_line(grad: Any) -> str | None:
    """The gradient's value (a scalar's) or norm; its shape is the value's."""
    if grad is None:
        return None
    array = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
    if array.size == 1:
        return f"∇ = {float(array.reshape(())):.6g}"
    return f"‖∇‖ = {float(np.linalg.norm(array)):.6g}"


def _facts_line(shape: tuple[int, ...], dtype: np.dtype, grad: Any,
                extra: str | None = None) -> str | None:
    """One line: the shape (not a scalar's), the dtype unless it is the default float64, and
    the gradient; None when there is nothing to say."""
    parts = ([] if shape == () else [str(shape)]) + ([] if dtype == np.float64 else [str(dtype)])
    parts += [extra] if extra else []
    grad_line = _gradient_line(grad)
    shown = [_small(text(" · ".join(parts)))] if parts else []
    shown += [text(grad_line)] if grad_line else []
    return " ".join(shown) or None


def _settings(node: Node) -> dict[str, Any]:
    """The attributes an op was called with, over its forward's keyword defaults."""
    forward = node.op.forward
    defaults = _DEFAULTS.get(forward)
    if defaults is None:
        try:  # a ufunc's keywords (out, where, casting, ...) are not the op's settings
            parameters = [] if isinstance(forward, np.ufunc) else \
                inspect.signature(forward).parameters.values()
        except (TypeError, ValueError):
            parameters = []
        defaults = _DEFAULTS[forward] = {p.name: p.default for p in parameters
                                         if p.default is not p.empty
                                         and p.kind is not p.VAR_KEYWORD}
    return {**defaults, **node.attrs}


def _value_text(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"array{value.shape}" if value.size > 6 else str(value.tolist())
    if isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
        return str(tuple(f"array{v.shape}" if isinstance(v, np.ndarray) else v for v in value))
    return str(value)


def _settings_text(node: Node) -> str:
    """The settings worth reading: not the index or shape (the label shows them), not None or
    False."""
    shown = {k: v for k, v in _settings(node).items()
             if k not in ("index", "shape") and v is not None and v is not False}
    return clip(", ".join(f"{k}={_value_text(v)}" for k, v in shown.items()), SETTINGS_CHARS)


def _scalar_text(value: Any) -> str:
    array = np.asarray(value)
    item = array.reshape(()).item()
    return f"{item:.4g}" if array.dtype.kind == "f" else str(item)


def _constant_text(value: Any) -> str:
    array = np.asarray(value)
    if array.size == 1:
        return _scalar_text(array)
    return f"constant {array.shape} · {array.dtype}"


def _index_text(index: Any) -> str:
    parts = index if isinstance(index, tuple) else (index,)
    shown = []
    for part in parts:
        if isinstance(part, slice):
            bounds = [("" if b is None else str(b)) for b in (part.start, part.stop, part.step)]
            shown.append(":".join(bounds[:2] if part.step is None else bounds))
        elif isinstance(part, np.ndarray):
            if part.dtype.kind == "b":
                shown.append("mask")
            else:
                shown.append(str(part.tolist()).replace(" ", "") if part.size <= 4 else "[…]")
        elif part is None:
            shown.append("None")
        else:
            shown.append(str(part))
    return clip(", ".join(shown), 24)


def _is_scalar_constant(value: Any) -> bool:
    """A plain number (or 0-d array) among an op's inputs: shown in its label, not as a box."""
    return not isinstance(value, Tensor | Node) and np.ndim(value) == 0


class _Builder:
    def __init__(self, highlight: Mapping[Any, str], max_depth: int | None) -> None:
        self.highlight = {id(k.node if isinstance(k, Tensor) and k.node is not None else k):
                          str(v) for k, v in highlight.items()}
        self.max_depth = max_depth
        self.vertices: list[tuple[str, str, dict[str, str]]] = []
        self.edges: dict[tuple[str, str], list[int]] = {}  # (source, target) -> positions
        self.ids: dict[int, str] = {}  # id of a tensor or node -> its vertex
        self.notes: list[tuple[str, str]] = []  # (vertex, reason)
        # For grouping repeats: per op vertex its node, its inputs' vertices (None for a
        # number shown in the label) and the vertices that consume it.
        self.op_nodes: dict[str, Node] = {}
        self.inputs: dict[str, list[str | None]] = {}
        self.consumers: dict[str, list[str]] = defaultdict(list)
        self.expressions: dict[tuple[int, int], tuple[str, int]] = {}
        self.sizes: dict[str, tuple[float, float]] = {}  # estimated pixels, for the layout
        self.depths = (5, 4, 3, 2, 1, 0)  # unnamed levels a label may show, tried in turn
        self.large = False  # too large to render: no layout estimate, no repeats

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{len(self.vertices)}"

    def _add(self, vid: str, key: int, lines: list[str], role: str) -> str:
        style = dict(STYLES[role])
        reason = self.highlight.get(key)
        if reason is not None:
            style.update(STYLES["failed"])
            if "filled" not in style["style"]:
                style["style"] += ",filled"
            self.notes.append((vid, reason))
        self._append(vid, lines, style)
        self.ids[key] = vid
        return vid

    def _append(self, vid: str, lines: list[str], style: dict[str, str],
                bold_first: bool = True) -> None:
        self.vertices.append((vid, _label(lines, bold_first), style))
        if not self.large:
            self.sizes[vid] = _estimated_size(lines)

    # -- labels
    def name_of(self, value: Any, depth: int) -> tuple[str, int]:
        """How an operand reads inside a label, with its precedence."""
        if type(value) is Node:
            if value.name:
                return clip(value.name, 16), ATOM
            if depth <= 0:
                return "…", ATOM
            return self.expression(value, depth - 1)
        if type(value) is Tensor:
            if value.name:
                return clip(value.name, 16), ATOM
            if value.size == 1:
                return _scalar_text(value.data), ATOM
            return ("input" if value.requires_grad else "constant"), ATOM
        if np.ndim(value) == 0:
            shown = _scalar_text(value)
            return shown, (3 if shown.startswith("-") else ATOM)
        return "constant", ATOM

    def expression(self, node: Node, depth: int) -> tuple[str, int]:
        """What ``node`` computes, from its operands' names, to ``depth`` unnamed levels."""
        key = (id(node), depth)
        if key in self.expressions:
            return self.expressions[key]
        name = node.op.name
        operands = [self.name_of(p, depth) for p in node.parents[:4]]
        if name in INFIX and len(operands) == 2:
            symbol, level = INFIX[name]
            (left, left_level), (right, right_level) = operands
            right_assoc = name == "pow"
            if left_level < level or (right_assoc and left_level == level):
                left = f"({left})"
            if right_level < level or (not right_assoc and right_level == level
                                       and name != "add"):
                right = f"({right})"
            result = (f"{left}{symbol}{right}", level)
        elif name == "neg" and len(operands) == 1:
            inner, level = operands[0]
            result = (f"−{inner if level >= 3 else f'({inner})'}", 3)
        elif name == "transpose" and len(operands) == 1:
            inner, level = operands[0]
            result = (f"{inner if level == ATOM else f'({inner})'}ᵀ", ATOM)
        elif name == "getitem" and len(operands) == 1:
            inner, level = operands[0]
            index = _index_text(node.attrs.get("index"))
            result = (f"{inner if level == ATOM else f'({inner})'}[{index}]", ATOM)
        else:
            shown = SHORT_NAMES.get(name, name)
            listed = [o for o, _ in operands[:3]] + (["…"] if len(operands) > 3 else [])
            result = (f"{shown}({', '.join(listed)})", ATOM)
        # Longer than a label can show: only the length matters to the labels that contain it
        # (they are too long as well), so the text is cut to keep deep graphs linear.
        result = (clip(result[0], EXPRESSION_CHARS + 1), result[1])
        self.expressions[key] = result
        return result

    def short_expression(self, node: Node) -> str:
        """The deepest rendering of what ``node`` computes that fits EXPRESSION_CHARS."""
        for depth in self.depths:
            shown = self.expression(node, depth)[0]
            if len(shown) <= EXPRESSION_CHARS:
                return shown
        return clip(shown, EXPRESSION_CHARS)

    # -- vertices
    def tensor_vertex(self, tensor: Tensor, is_output: bool) -> str:
        if id(tensor) in self.ids:
            return self.ids[id(tensor)]
        role = "output" if is_output else ("input" if tensor.requires_grad else "constant")
        name = tensor.name or ("output" if is_output else "input" if tensor.requires_grad
                               else "constant")
        lines = [text(clip(name, NAME_CHARS))]
        if tensor.size == 1 and (role != "input" or is_output):
            lines.append(text(f"value = {_scalar_text(tensor.data)}"))
        facts = _facts_line(tensor.shape, tensor.dtype, tensor.grad,
                            "no gradient" if role == "constant" else None)
        if facts:
            lines.append(facts)
        return self._add(self._new_id("t"), id(tensor), lines, role)

    def constant_vertex(self, value: Any) -> str:
        vid = self._new_id("c")
        self._append(vid, [_small(text(_constant_text(value)))], dict(STYLES["constant"]),
                     bold_first=False)
        return vid

    def node_vertex(self, node: Node, output: Tensor | None) -> str:
        """One box for an op and the value it produced; returns its vertex."""
        role = "output" if output is not None else ("named" if node.name else "intermediate")
        computed = self.short_expression(node)
        if node.name or output is not None:
            lines = [text(clip(node.name or "output", NAME_CHARS)), text(f"= {computed}")]
        else:
            lines = [text(computed)]
        settings = _settings_text(node)
        if settings:
            lines.append(_small(text(settings)))
        if output is not None and output.size == 1:
            lines.append(text(f"value = {_scalar_text(output.data)}"))
        facts = _facts_line(node.shape, node.dtype, node.grad)
        if facts:
            lines.append(facts)
        vid = self._add(self._new_id("v"), id(node), lines, role)
        self.op_nodes[vid] = node
        return vid

    def _truncated(self, node: Node) -> str:
        vid = self._new_id("t")
        lines = [text(clip(node.name, NAME_CHARS) if node.name else self.short_expression(node)),
                 _small(text(f"{node.shape} · {node.dtype}")),
                 _small(text(f"its ops are not drawn (max_depth={self.max_depth})"))]
        self._append(vid, lines, {"shape": "box", "style": "dotted"})
        self.ids[id(node)] = vid
        return vid

    def build(self, root: Tensor) -> None:
        if root.node is None:
            self.tensor_vertex(root, is_output=True)
            return
        self.node_vertex(root.node, output=root)
        stack: list[tuple[Node, int]] = [(root.node, 0)]
        while stack:
            node, depth = stack.pop()
            target = self.ids[id(node)]
            inputs: list[str | None] = []
            for position, parent in enumerate(node.parents):
                if type(parent) is Node:
                    if id(parent) in self.ids:
                        source = self.ids[id(parent)]
                    elif self.max_depth is not None and depth + 1 >= self.max_depth:
                        source = self._truncated(parent)
                    else:
                        source = self.node_vertex(parent, output=None)
                        stack.append((parent, depth + 1))
                elif type(parent) is Tensor:
                    source = self.tensor_vertex(parent, is_output=False)
                elif _is_scalar_constant(parent):
                    inputs.append(None)
                    continue
                else:
                    source = self.constant_vertex(parent)
                inputs.append(source)
                self.edges.setdefault((source, target), []).append(position)
                self.consumers[source].append(target)
            self.inputs[target] = inputs

    # -- repeated sub-graphs
    def repeats(self) -> list[tuple[int, int, int, list[str]]]:
        """Sub-graphs that occur more than once: (kind, number, of how many, vertices).

        Each op vertex gets a structural signature (its op, its settings' names, its inputs'
        signatures; a leaf or constant is its own). A repeat is the part of the graph that only
        a vertex with a repeated signature consumes, taken at the outermost such vertex, when it
        holds at least MIN_REPEAT ops."""
        if self.large:
            return []
        signature: dict[str, int] = {}
        interned: dict[tuple[Any, ...], int] = {}
        order = sorted(self.op_nodes, key=lambda v: self.op_nodes[v].seq)
        for vid in order:
            node = self.op_nodes[vid]
            key = (node.op.name, tuple(sorted(node.attrs)),
                   tuple(signature.get(i, i) if i is not None else None
                         for i in self.inputs.get(vid, ())))
            signature[vid] = interned.setdefault(key, len(interned))
        counts = Counter(signature.values())
        taken: set[str] = set()
        groups: dict[int, list[list[str]]] = defaultdict(list)
        for vid in reversed(order):
            if vid in taken or counts[signature[vid]] < 2:
                continue
            consumers = set(self.consumers.get(vid, ()))
            if len(consumers) == 1 and counts[signature.get(next(iter(consumers)), -1)] >= 2:
                continue  # inside a larger repeat
            members = self._owned(vid, taken)
            if len(members) >= MIN_REPEAT:
                taken.update(members)
                groups[signature[vid]].append(members)
        found = []
        for kind, (_, instances) in enumerate(sorted(groups.items())):
            if len(instances) < 2:
                continue
            for number, members in enumerate(instances[::-1], start=1):
                found.append((kind, number, len(instances), members))
        return sorted(found, key=lambda group: self.op_nodes[group[3][-1]].seq)

    def layout(self) -> tuple[str, float]:
        """TB or LR, whichever needs less shrinking to fit SCREEN, and that shrinking (1 or
        less: it fits), estimated from the ranks (longest path from a leaf) and the label
        sizes; TB on a tie."""
        if self.large:
            return "TB", float("inf")
        rank: dict[str, int] = {}
        for vid in sorted(self.op_nodes, key=lambda v: self.op_nodes[v].seq):
            rank[vid] = 1 + max((rank.get(i, 0) for i in self.inputs.get(vid, ())
                                 if i is not None), default=0)
        per_rank: dict[int, list[tuple[float, float]]] = defaultdict(list)
        for vid, size in self.sizes.items():
            per_rank[rank.get(vid, 0)].append(size)
        across, along = 11.5, 19.0  # nodesep and ranksep in pixels
        tb = (max(sum(w for w, _ in sizes) + across * len(sizes) for sizes in per_rank.values()),
              sum(max(h for _, h in sizes) + along for sizes in per_rank.values()))
        lr = (sum(max(w for w, _ in sizes) + along for sizes in per_rank.values()),
              max(sum(h for _, h in sizes) + across * len(sizes) for sizes in per_rank.values()))
        shrink = [max(w / SCREEN[0], h / SCREEN[1]) for w, h in (tb, lr)]
        return ("LR", shrink[1]) if shrink[1] < shrink[0] else ("TB", shrink[0])

    def _owned(self, root: str, taken: set[str]) -> list[str]:
        """``root`` and the op vertices only it (directly or through them) consumes."""
        members = {root}
        heap = [(-self.op_nodes[root].seq, root)]
        seen = {root}
        while heap:
            _, vid = heapq.heappop(heap)
            if vid != root:
                if vid in taken or not set(self.consumers[vid]) <= members:
                    continue
                members.add(vid)
            for source in self.inputs.get(vid, ()):
                if source is not None and source in self.op_nodes and source not in seen:
                    seen.add(source)
                    heapq.heappush(heap, (-self.op_nodes[source].seq, source))
        return sorted(members, key=lambda v: self.op_nodes[v].seq)


def _estimated_size(lines: list[str]) -> tuple[float, float]:
    """A label's width and height in pixels, roughly (Helvetica 10 pt at 96 dpi)."""
    plain = [html.unescape(re.sub(r"<[^>]*>", "", line)) for line in lines]
    return 7.0 * max((len(line) for line in plain), default=1) + 16, 15.0 * len(plain) + 10


def _check_highlight(highlight: Any) -> Mapping[Any, str]:
    if highlight is None:
        return {}
    if not isinstance(highlight, Mapping):
        raise GraphError(f"highlight must map tensors to reasons, got {type(highlight).__name__}")
    return highlight


def _build(tensor: Tensor, highlight: Mapping[Any, str] | None,
           max_depth: int | None) -> _Builder:
    if not isinstance(tensor, Tensor):
        raise GraphError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int)
                                  or max_depth < 1):
        raise GraphError(f"max_depth must be a whole number of at least 1 or None, got "
                         f"{clip(repr(max_depth), 30)}")
    builder = _Builder(_check_highlight(highlight), max_depth)
    if _more_ops_than(tensor, RENDER_LIMIT):  # too large to render: cheaper, shallower labels
        builder.depths, builder.large = (1, 0), True
    builder.build(tensor)
    return builder


def _more_ops_than(tensor: Tensor, limit: int) -> bool:
    seen: set[int] = set()
    stack = [tensor.node] if tensor.node is not None else []
    while stack and len(seen) <= limit:
        node = stack.pop()
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(p for p in node.parents if type(p) is Node)
    return len(seen) > limit


def _digraph(builder: _Builder, title: str | None) -> Any:
    import graphviz

    rankdir, shrink = builder.layout()
    graph = graphviz.Digraph(
        name="autograd_lite",
        graph_attr={"rankdir": rankdir, "nodesep": "0.12", "ranksep": "0.2",
                    "fontname": "Helvetica", "fontsize": "12"},
        node_attr={"fontname": "Helvetica", "fontsize": "10", "margin": "0.06,0.02"},
        edge_attr={"fontname": "Helvetica", "fontsize": "8", "arrowsize": "0.6"})
    if title is not None:
        graph.attr(label=f"<{text(clip(title, TITLE_CHARS))}>", labelloc="t")
    if shrink <= MAX_SHRINK:  # (Graphviz scales down only what is larger)
        graph.attr(size=f"{SCREEN[0] / 96:g},{SCREEN[1] / 96:g}")
    clusters = builder.repeats()
    clustered = {vid for *_, members in clusters for vid in members}
    # The body is written directly (Digraph.node() costs ~20 µs a call): the identifiers are
    # ours, the labels are escaped HTML and the other attribute values are this module's own.
    lines = {vid: f"\t{vid} [label={label} {_attributes(style)}]\n"
             for vid, label, style in builder.vertices}
    graph.body.extend(line for vid, line in lines.items() if vid not in clustered)
    for index, (kind, number, total, members) in enumerate(clusters):
        colour = CLUSTER_COLOURS[kind % len(CLUSTER_COLOURS)]
        graph.body.append(f'\tsubgraph cluster_{index} {{\n\t\tlabel="{number} of {total}" '
                          f'style="rounded,filled,dashed" fillcolor="{colour}" '
                          'color="#adb5bd" fontsize="9" fontcolor="#495057"\n')
        graph.body.extend("\t" + lines[vid] for vid in members)
        graph.body.append("\t}\n")
    for number, (target, reason) in enumerate(builder.notes):
        wrapped = textwrap.wrap(clip(reason, NOTE_CHARS), NOTE_WIDTH) or [""]
        label = _label([f'<FONT COLOR="#c92a2a">{text(line)}</FONT>' for line in wrapped],
                       bold_first=False, align="LEFT")
        graph.body.append(f"\tnote{number} [label={label} {_attributes(STYLES['note'])}]\n")
        graph.body.append(f'\t{target} -> note{number} [style="dashed" color="#e03131" '
                          'arrowhead="none"]\n')
    several = Counter(target for _, target in builder.edges)
    for (source, target), positions in builder.edges.items():
        attrs = {}
        if len(positions) > 1:
            attrs["label"] = f"×{len(positions)}" if len(positions) > 3 else \
                ",".join(map(str, positions))
        elif several[target] > 1 and builder.op_nodes[target].op.name not in ("add", "mul"):
            attrs["label"] = str(positions[0])
        suffix = f" [{_attributes(attrs)}]" if attrs else ""
        graph.body.append(f"\t{source} -> {target}{suffix}\n")
    return graph


def _attributes(attrs: Mapping[str, str]) -> str:
    return " ".join(f'{key}="{value}"' for key, value in attrs.items())


def to_dot(tensor: Tensor, highlight: Mapping[Any, str] | None = None,
           max_depth: int | None = None, title: str | None = None) -> Any:
    """The computation graph of ``tensor`` as a ``graphviz.Digraph`` (``.source`` is the DOT;
    in Jupyter it displays inline).

    ``highlight`` maps tensors (or nodes) to a reason, drawn in red with the reason in a note;
    ``max_depth`` draws only the ops at most that many steps from the output, the rest as
    dotted stubs; ``title`` is shown above the graph (cut to TITLE_CHARS characters).
    """
    return _digraph(_build(tensor, highlight, max_depth), _title(title))


def _title(title: Any) -> str | None:
    if title is not None and not isinstance(title, str):
        raise GraphError(f"title must be a string or None, got {type(title).__name__}")
    return title


def check_output_path(path: str | os.PathLike[str]) -> Path:
    """``path`` if a graph can be written there, else a :class:`GraphError` saying why: an
    unknown suffix, a folder, a name too long for the file system, a parent that is a file or
    not writable."""
    if not isinstance(path, str | os.PathLike):
        raise GraphError(f"render: the path must be a string or a Path, got "
                         f"{type(path).__name__}")
    path = Path(path)
    shown = repr(clip(str(path), 80))
    if not str(path) or str(path) == "." or "\0" in str(path):
        raise GraphError(f"render: {shown} is not a file name")
    encoded = os.fsencode(str(path))
    longest = max(len(part) for part in encoded.split(b"/"))
    if longest > 255 or len(encoded) > 4000:
        raise GraphError(f"render: {shown} is too long for the file system (a name of "
                         f"{longest} bytes; at most 255 a name, 4,000 a path)")
    try:
        _check_place(path, shown)
    except OSError as exc:
        raise GraphError(f"render: cannot write {shown}: {exc.strerror or exc}") from None
    return path


def _check_place(path: Path, shown: str) -> None:
    if path.is_dir():
        raise GraphError(f"render: {shown} is a folder; give a file in it, e.g. "
                         f"{clip(str(path / 'graph.svg'), 80)!r}")
    if path.suffix.lower() not in FORMATS:
        raise GraphError(f"render: unknown format {clip(path.suffix, 20)!r} for {shown}; use "
                         f"one of {', '.join(sorted(FORMATS))}")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise GraphError(f"render: cannot write {shown}: {clip(str(parent), 80)!r} is not a "
                         "folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GraphError(f"render: cannot write {shown}: no permission to write in "
                         f"{clip(str(parent), 80)!r}")


def render(tensor: Tensor, path: str | Path, highlight: Mapping[Any, str] | None = None,
           max_depth: int | None = None, title: str | None = None) -> Path:
    """Write the graph of ``tensor`` to ``path``; the suffix picks the format (.svg, .png,
    .pdf, .dot). Needs the system Graphviz ``dot`` except for .dot."""
    path = check_output_path(path)
    fmt = FORMATS[path.suffix.lower()]
    builder = _build(tensor, highlight, max_depth)
    if fmt != "dot":
        edges = len(builder.edges) + len(builder.notes)
        if len(builder.vertices) > RENDER_LIMIT or edges > EDGE_LIMIT:
            raise GraphError(
                f"render: the graph has {len(builder.vertices):,} vertices and {edges:,} edges; "
                f"Graphviz cannot lay out more than about {RENDER_LIMIT:,} vertices or "
                f"{EDGE_LIMIT:,} edges legibly. Pass max_depth=N (--max-depth N) to draw only "
                "the last N ops, or write the DOT text with a .dot suffix (to_dot(t).source).")
        if shutil.which("dot") is None:
            raise GraphvizNotFoundError(
                "render: the Graphviz 'dot' program is not on PATH, so the graph cannot be "
                "drawn. Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew "
                "install graphviz; conda: conda install graphviz). to_dot(t).source still gives "
                "the DOT text, and a .dot path writes it without Graphviz.")
    source = _digraph(builder, _title(title)).source
    content = source.encode("utf-8") if fmt == "dot" else _run_dot(source, fmt)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    except OSError as exc:
        raise GraphError(f"render: cannot write {clip(str(path), 80)!r}: "
                         f"{exc.strerror or exc}") from None
    return path


def _run_dot(source: str, fmt: str) -> bytes:
    """``dot -T<fmt>`` on ``source``, stopped after RENDER_SECONDS."""
    try:
        done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=RENDER_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise GraphError(f"render: Graphviz took longer than {RENDER_SECONDS} s and was "
                         "stopped; draw fewer ops with max_depth=N (--max-depth N)") from None
    except OSError as exc:
        raise GraphError(f"render: cannot run Graphviz 'dot': {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = " ".join(done.stderr.decode("utf-8", "replace").split())
        raise GraphError(f"render: Graphviz 'dot' failed: {clip(message, 200)}")
    return done.stdout
