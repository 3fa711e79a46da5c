"""The ``autograd-lite`` command: ``verify``, ``graph`` and ``ops``.

Exit status of ``verify``: 0 when no check fails, 1 when any check fails, 2 when a path, file or
derivation cannot be verified (the others are still checked); see :func:`_verify`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from autograd_lite.errors import AutogradLiteError

DEFAULT_TIMEOUT = 60.0  # seconds; autograd_lite.verify.DEFAULT_TIMEOUT (not imported: start-up)


def default_derivations() -> Path:
    """``./derivations`` if it exists, else the catalogue shipped beside the package."""
    here = Path.cwd() / "derivations"
    return here if here.is_dir() else Path(__file__).resolve().parent.parent / "derivations"


def _verify(args: argparse.Namespace) -> int:
    """Exit status: 0 when no check fails (kinks and unreliable numeric references do not
    fail), 1 when a check fails, 2 when a path, file or derivation cannot be verified (missing,
    unreadable, not UTF-8, not a regular file, raising or exiting, timed out, no derivations),
    the others still being checked. Whatever derivation files print goes to stderr, so that
    stdout holds only the table or the JSON document."""
    from autograd_lite import html_report
    from autograd_lite import report as present
    from autograd_lite.verify import verify_paths

    paths = args.paths or [default_derivations()]
    if args.timeout is not None and not args.timeout > 0:
        print("autograd-lite verify: --timeout must be a positive number of seconds",
              file=sys.stderr)
        return 2
    with _stdout_to_stderr():
        reports, errors = verify_paths(paths, timeout=args.timeout)
        graphs = {}
        if args.graphs:
            try:
                graphs = present.render_graphs(reports, args.graphs)
            except AutogradLiteError as exc:
                errors.append(f"graphs: {exc}")
    if args.report:
        present.write_markdown(reports, errors, args.report, graphs)
        written = html_report.write_html(reports, errors, args.report, graphs)
        print(f"report written to {written}", file=sys.stderr)
    if args.json:
        print(json.dumps(present.document(reports, errors), indent=2, ensure_ascii=False,
                         allow_nan=False))
    else:
        print(present.table(reports, errors))
    if errors:
        return 2
    return 0 if all(r.passed for r in reports) else 1


@contextlib.contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send everything written to stdout meanwhile to stderr: Python's sys.stdout, and file
    descriptor 1 as well when it is one (output of C code and subprocesses)."""
    sys.stdout.flush()
    saved = None
    try:
        fd = sys.stdout.fileno()
        err = sys.stderr.fileno()
        saved = os.dup(fd)
        os.dup2(err, fd)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        fd = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved is not None and fd is not None:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)


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
    from autograd_lite.registry import get_op, op_families

    for family, names in op_families().items():
        print(f"{family}:")
        for name in names:
            doc = (get_op(name).doc or "").splitlines()
            print(f"  {name:<22} {doc[0] if doc else ''}")
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
                    "status: 0 no check fails (KINK and UNRELIABLE do not fail), 1 a check "
                    "fails, 2 a path, file or derivation cannot be verified (the others are "
                    "still checked). Derivation files are Python: only verify files you trust.")
    verify.add_argument("paths", nargs="*", help="derivation .py files or folders")
    verify.add_argument("--json", action="store_true",
                        help="print the JSON document (strict JSON: no NaN or Infinity) on "
                             "stdout; anything derivation files print goes to stderr")
    verify.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help="time limit for loading each file and for verifying each "
                             f"derivation (default {DEFAULT_TIMEOUT:g}); past it, an error "
                             "naming the derivation (exit 2)")
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
