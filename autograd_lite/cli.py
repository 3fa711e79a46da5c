"""The ``autograd-lite`` command: ``verify``, ``graph`` and ``ops``.

Exit status of ``verify``: 0 when every check passes, 1 when any check fails, 2 when a file
cannot be loaded or a derivation is malformed (the others are still checked).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from autograd_lite.errors import AutogradLiteError


def default_derivations() -> Path:
    """``./derivations`` if it exists, else the catalogue shipped beside the package."""
    here = Path.cwd() / "derivations"
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "derivations"


def _verify(args: argparse.Namespace) -> int:
    from autograd_lite import html_report
    from autograd_lite import report as present
    from autograd_lite.verify import verify_paths

    paths = args.paths or [default_derivations()]
    missing = [p for p in paths if not Path(p).exists()]
    reports, errors = verify_paths([p for p in paths if Path(p).exists()])
    errors = [f"{p}: no such file or folder" for p in missing] + errors
    graphs = {}
    if args.graphs:
        try:
            graphs = present.render_graphs(reports, args.graphs)
        except AutogradLiteError as exc:
            errors.append(f"graphs: {exc}")
    if args.report:
        present.write_markdown(reports, errors, args.report, graphs)
        written = html_report.write_html(reports, errors, args.report, graphs)
        if not args.json:
            print(f"report written to {written}", file=sys.stderr)
    if args.json:
        print(json.dumps(present.document(reports, errors), indent=2, ensure_ascii=False))
    else:
        print(present.table(reports, errors))
    if errors:
        return 2
    return 0 if all(r.passed for r in reports) else 1


def _graph(args: argparse.Namespace) -> int:
    from autograd_lite.expression import InputSpec, build
    from autograd_lite.graph import render
    from autograd_lite.modes import retain_grads

    specs = {}
    for text in args.input:
        spec = InputSpec.parse(text)
        specs[spec.name] = spec
    with retain_grads():
        out, _ = build(args.expression, specs, seed=args.seed)
    out.name = out.name or "output"
    if out.requires_grad:
        out.backward(np.ones(out.shape, dtype=out.dtype))
    path = render(out, args.output, max_depth=args.max_depth, title=args.expression)
    print(f"wrote {path} (output shape {out.shape})")
    return 0


def _ops(args: argparse.Namespace) -> int:
    from autograd_lite.registry import get_op, list_ops

    for name in list_ops():
        doc = (get_op(name).doc or "").splitlines()
        print(f"{name:<24} {doc[0] if doc else ''}")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="autograd-lite",
        description="Check hand-derived gradients against reverse-mode autodiff and finite "
                    "differences, and draw computation graphs.")
    commands = top.add_subparsers(dest="command", required=True)
    verify = commands.add_parser(
        "verify", help="verify derivation files (default: the shipped derivations/)",
        description="Verify every Derivation in the given files and folders three ways. Exit "
                    "status: 0 all pass, 1 a check fails, 2 a file or derivation is broken. "
                    "Derivation files are Python: only verify files you trust.")
    verify.add_argument("paths", nargs="*", help="derivation .py files or folders")
    verify.add_argument("--json", action="store_true", help="print the JSON document")
    verify.add_argument("--report", metavar="DIR",
                        help="write the report to DIR: index.html (open it) and README.md")
    verify.add_argument("--graphs", metavar="DIR",
                        help="render each derivation's graph (failing targets in red) to DIR")
    graph = commands.add_parser(
        "graph", help="draw the graph of an expression",
        description="Evaluate EXPRESSION (parsed and whitelisted, never executed as Python) on "
                    "seeded random inputs, backpropagate, and render its graph.")
    graph.add_argument("expression", help='e.g. "sigmoid(x @ W1 + b1) @ W2 + b2"')
    graph.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE",
                       help="an input: x=20x10 (floats), b=5, c=scalar, y=20:int[:N] (labels)")
    graph.add_argument("-o", "--output", default="graph.svg",
                       help="output path; .svg, .png, .pdf or .dot (default graph.svg)")
    graph.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    graph.add_argument("--max-depth", type=int, default=None,
                       help="draw only the ops this many steps from the output")
    commands.add_parser("ops", help="list the registered ops")
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    handlers = {"verify": _verify, "graph": _graph, "ops": _ops}
    try:
        return handlers[args.command](args)
    except AutogradLiteError as exc:
        print(f"autograd-lite {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
