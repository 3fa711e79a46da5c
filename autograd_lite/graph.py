"""Draw what the tape recorded: :func:`to_dot` builds a ``graphviz.Digraph``, :func:`render`
writes it as SVG, PNG, PDF or DOT.

Each recorded op is an ellipse (its registry name and attributes); each tensor is a box (its
name or role, shape, dtype and, once known, its gradient's shape and norm). Leaves that require
grad are blue, constants grey and dashed, named intermediates yellow, the output green with a
double border, and highlighted tensors (the verifier's failing targets) red with the reason.
Identical graphs give identical DOT text. User text only ever appears HTML-escaped inside
HTML-like labels, so no name can break or inject into the DOT.
"""

from __future__ import annotations

import html
import inspect
import shutil
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from autograd_lite.errors import GraphError, GraphvizNotFoundError
from autograd_lite.tensor import Node, Tensor

# dot lays out a few thousand vertices at most in reasonable time and legibly.
RENDER_LIMIT = 2000
BACKSLASH = "&#92;&#92;"
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}

STYLES = {
    "input": {"shape": "box", "style": "rounded,filled", "fillcolor": "#cfe2ff"},
    "constant": {"shape": "box", "style": "rounded,filled,dashed", "fillcolor": "#eeeeee"},
    "named": {"shape": "box", "style": "rounded,filled", "fillcolor": "#fff3bf"},
    "intermediate": {"shape": "box", "style": "rounded", "fillcolor": "white"},
    "output": {"shape": "box", "style": "rounded,filled", "fillcolor": "#d3f9d8",
               "peripheries": "2"},
    "op": {"shape": "ellipse", "style": "filled", "fillcolor": "#f8f9fa"},
    "failed": {"color": "#e03131", "penwidth": "3", "fillcolor": "#ffe3e3"},
}


def text(value: Any) -> str:
    """``value`` as text safe inside an HTML-like label: markup characters become entities,
    backslashes and control characters become visible escapes. Graphviz decodes entities before
    it expands escapes such as \\N, so a backslash is written as two (``&#92;&#92;``)."""
    escaped = html.escape(str(value), quote=True)
    out = []
    for ch in escaped:
        if ch == "\\":
            out.append(BACKSLASH)
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"{BACKSLASH}x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out)


def _label(lines: list[str], tooltip: str | None = None, bold_first: bool = True) -> str:
    rows = []
    for i, line in enumerate(lines):
        content = f"<B>{line}</B>" if i == 0 and bold_first else line
        rows.append(f"<TR><TD>{content}</TD></TR>")
    tip = f' TOOLTIP="{tooltip}"' if tooltip else ""
    return f'<<TABLE BORDER="0" CELLSPACING="0" CELLPADDING="1"{tip}>{"".join(rows)}</TABLE>>'


def _gradient_line(grad: Any) -> str | None:
    if grad is None:
        return None
    array = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
    if array.size == 1:
        return f"∇ = {float(array.reshape(())):.6g}"
    return f"∇ {array.shape} ‖∇‖ = {float(np.linalg.norm(array)):.6g}"


def _settings(node: Node) -> dict[str, Any]:
    """The attributes an op was called with, over its forward's keyword defaults."""
    forward = node.op.forward
    try:  # a ufunc's keywords (out, where, casting, ...) are not the op's settings
        parameters = [] if isinstance(forward, np.ufunc) else \
            inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):
        parameters = []
    defaults = {p.name: p.default for p in parameters
                if p.default is not p.empty and p.kind is not p.VAR_KEYWORD}
    return {**defaults, **node.attrs}


def _attrs_text(attrs: Mapping[str, Any]) -> str:
    parts = []
    for key, value in attrs.items():
        if isinstance(value, np.ndarray):
            value = f"array{value.shape}" if value.size > 6 else value.tolist()
        elif isinstance(value, tuple) and any(isinstance(v, np.ndarray) for v in value):
            value = tuple(f"array{v.shape}" if isinstance(v, np.ndarray) else v for v in value)
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _reason_lines(reason: str | None, width: int = 48, most: int = 4) -> list[str]:
    """A highlight's reason, wrapped into a few red lines (the whole of it is the tooltip)."""
    if not reason:
        return []
    lines = textwrap.wrap(reason, width)
    if len(lines) > most:
        lines = [*lines[:most - 1], lines[most - 1] + " …"]
    return [f'<FONT COLOR="#c92a2a">{text(line)}</FONT>' for line in lines]


def _constant_text(value: Any) -> str:
    array = np.asarray(value)
    if array.size == 1:
        return f"{array.reshape(()).item():.6g}" if array.dtype.kind == "f" else str(array.item())
    return f"constant {array.shape} · {array.dtype}"


class _Builder:
    def __init__(self, highlight: Mapping[Any, str], max_depth: int | None) -> None:
        self.highlight = {id(k.node if isinstance(k, Tensor) and k.node is not None else k): v
                          for k, v in highlight.items()}
        self.max_depth = max_depth
        self.vertices: list[tuple[str, str, dict[str, str]]] = []
        self.edges: list[tuple[str, str, dict[str, str]]] = []
        self.ids: dict[int, str] = {}  # id of a tensor or node -> its tensor vertex
        self.op_ids: dict[int, str] = {}  # id of a node -> its op vertex

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{len(self.vertices)}"

    def _style(self, role: str, key: int) -> tuple[dict[str, str], str | None]:
        style = dict(STYLES[role])
        reason = self.highlight.get(key)
        if reason is not None:
            style.update(STYLES["failed"])
            if "filled" not in style["style"]:
                style["style"] += ",filled"
        return style, reason

    def _value_vertex(self, key: int, role: str, name: str | None, shape: tuple[int, ...],
                      dtype: np.dtype, grad: Any) -> str:
        """A box for a value: name or role, shape and dtype, gradient, highlight reason."""
        style, reason = self._style(role, key)
        lines = [text(name or role), text(f"{shape} · {dtype}")]
        grad_line = _gradient_line(grad)
        if grad_line:
            lines.append(text(grad_line))
        lines += _reason_lines(reason)
        vid = self._new_id("t")
        self.vertices.append((vid, _label(lines, text(reason) if reason else None), style))
        self.ids[key] = vid
        return vid

    def tensor_vertex(self, tensor: Tensor, is_output: bool) -> str:
        if id(tensor) in self.ids:
            return self.ids[id(tensor)]
        role = "output" if is_output else ("input" if tensor.requires_grad else "constant")
        return self._value_vertex(id(tensor), role, tensor.name, tensor.shape, tensor.dtype,
                                  tensor.grad)

    def constant_vertex(self, value: Any) -> str:
        vid = self._new_id("c")
        self.vertices.append((vid, _label([text(_constant_text(value))], bold_first=False),
                              dict(STYLES["constant"])))
        return vid

    def node_vertices(self, node: Node, is_output: bool) -> str:
        """The op vertex and its output tensor vertex; returns the tensor vertex."""
        role = "output" if is_output else ("named" if node.name else "intermediate")
        out_id = self._value_vertex(id(node), role, node.name, node.shape, node.dtype, node.grad)
        attrs = _attrs_text(_settings(node))
        op_lines = [text(node.op.name)] + ([text(attrs)] if attrs else [])
        op_id = self._new_id("op")
        self.vertices.append((op_id, _label(op_lines), dict(STYLES["op"])))
        self.edges.append((op_id, out_id, {}))
        self.op_ids[id(node)] = op_id
        return out_id

    def build(self, root: Tensor) -> None:
        if root.node is None:
            self.tensor_vertex(root, is_output=True)
            return
        self.node_vertices(root.node, is_output=True)
        stack: list[tuple[Node, int]] = [(root.node, 0)]
        while stack:
            node, depth = stack.pop()
            op_id = self.op_ids[id(node)]
            several = len(node.parents) > 1
            for position, parent in enumerate(node.parents):
                if type(parent) is Node:
                    if id(parent) in self.ids:
                        source = self.ids[id(parent)]
                    elif self.max_depth is not None and depth + 1 >= self.max_depth:
                        source = self._truncated(parent)
                    else:
                        source = self.node_vertices(parent, is_output=False)
                        stack.append((parent, depth + 1))
                elif type(parent) is Tensor:
                    source = self.tensor_vertex(parent, is_output=False)
                else:
                    source = self.constant_vertex(parent)
                self.edges.append((source, op_id, {"label": str(position)} if several else {}))

    def _truncated(self, node: Node) -> str:
        vid = self._new_id("t")
        lines = [text(node.name or "…"), text(f"{node.shape} · {node.dtype}"),
                 text(f"computed by '{node.op.name}' (not drawn: max_depth)")]
        self.vertices.append((vid, _label(lines), {"shape": "box", "style": "dotted"}))
        self.ids[id(node)] = vid
        return vid


def _build(tensor: Tensor, highlight: Mapping[Any, str] | None,
           max_depth: int | None) -> _Builder:
    if not isinstance(tensor, Tensor):
        raise GraphError(f"to_dot: expected a Tensor, got {type(tensor).__name__}")
    builder = _Builder(highlight or {}, max_depth)
    builder.build(tensor)
    return builder


def _digraph(builder: _Builder, title: str | None) -> Any:
    import graphviz

    graph = graphviz.Digraph(name="autograd_lite", graph_attr={"rankdir": "TB"},
                             node_attr={"fontname": "Helvetica", "fontsize": "11"},
                             edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    if title:
        graph.attr(label=f"<{text(title)}>", labelloc="t")
    # The body is written directly (Digraph.node() costs ~20 µs a call): the identifiers are
    # ours, the labels are escaped HTML and the other attribute values are this module's own.
    graph.body.extend(f"\t{vid} [label={label} {_attributes(style)}]\n"
                      for vid, label, style in builder.vertices)
    graph.body.extend(f"\t{source} -> {target}{' [' + _attributes(attrs) + ']' if attrs else ''}\n"
                      for source, target, attrs in builder.edges)
    return graph


def _attributes(attrs: Mapping[str, str]) -> str:
    return " ".join(f'{key}="{value}"' for key, value in attrs.items())


def to_dot(tensor: Tensor, highlight: Mapping[Any, str] | None = None,
           max_depth: int | None = None, title: str | None = None) -> Any:
    """The computation graph of ``tensor`` as a ``graphviz.Digraph`` (``.source`` is the DOT;
    in Jupyter it displays inline).

    ``highlight`` maps tensors (or nodes) to a reason, drawn in red; ``max_depth`` draws only
    the ops at most that many steps from the output, the rest as dotted stubs.
    """
    return _digraph(_build(tensor, highlight, max_depth), title)


def render(tensor: Tensor, path: str | Path, highlight: Mapping[Any, str] | None = None,
           max_depth: int | None = None, title: str | None = None) -> Path:
    """Write the graph of ``tensor`` to ``path``; the suffix picks the format (.svg, .png,
    .pdf, .dot). Needs the system Graphviz ``dot`` except for .dot."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise GraphError(f"render: unknown format '{path.suffix}' for {path}; use one of "
                         f"{', '.join(sorted(FORMATS))}")
    builder = _build(tensor, highlight, max_depth)
    if fmt != "dot" and len(builder.vertices) > RENDER_LIMIT:
        raise GraphError(
            f"render: the graph has {len(builder.vertices)} vertices; Graphviz cannot lay out "
            f"more than about {RENDER_LIMIT} legibly. Pass max_depth=N to draw only the last N "
            "ops, or write the DOT text with a .dot suffix (to_dot(t).source)."
        )
    if fmt != "dot" and shutil.which("dot") is None:
        raise GraphvizNotFoundError(
            "render: the Graphviz 'dot' program is not on PATH, so the graph cannot be drawn. "
            "Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install "
            "graphviz; conda: conda install graphviz). to_dot(t).source still gives the DOT "
            "text, and a .dot path writes it without Graphviz."
        )
    graph = _digraph(builder, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(graph.source, encoding="utf-8")
    else:
        path.write_bytes(graph.pipe(format=fmt))
    return path
