"""The ``autograd-lite`` command: ``verify``, ``graph``, ``explain`` and ``ops``.

Exit status of ``verify``: 0 when no check fails, 1 when any check fails, 2 when a path, file or
derivation cannot be verified (the others are still checked); see :func:`_verify`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import numpy as np

from autograd_lite.errors import AutogradLiteError, DerivationError, ExpressionError

MESSAGE_CHARS = 1_000  # characters of an error message on the command line

DEFAULT_TIMEOUT = 60.0  # seconds; autograd_lite.verify.DEFAULT_TIMEOUT (not imported: start-up)
WRITEUP_MAX_SIZE = 64  # autograd_lite.writeup.model.MAX_SIZE (not imported: start-up)


def _dimension(text: str) -> tuple[str, int]:
    """``--dim NAME=SIZE``: a size name as the writeup writes it (``D_x``, ``D_{x}``, ``N``)
    and a whole number from 1 to WRITEUP_MAX_SIZE."""
    name, equals, value = text.partition("=")
    name = name.strip()
    if not equals or not re.fullmatch(r"[A-Za-z\\][A-Za-z0-9_{}\\]*", name):
        raise argparse.ArgumentTypeError(f"expected NAME=SIZE such as D_x=10, got {text[:40]!r}")
    value = value.strip()
    if not value.isdigit() or not 1 <= int(value) <= WRITEUP_MAX_SIZE:
        raise argparse.ArgumentTypeError(f"the size of {name} must be a whole number from 1 to "
                                         f"{WRITEUP_MAX_SIZE}, got {value[:30]!r}")
    return name, int(value)


def _dims(pairs: Sequence[tuple[str, int]]) -> dict[str, int]:
    """The --dim options as a dict; the same name twice with different sizes is refused."""
    dims: dict[str, int] = {}
    for name, size in pairs:
        if dims.get(name, size) != size:
            raise DerivationError(f"--dim {name} given twice, as {dims[name]} and {size}")
        dims[name] = size
    return dims


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
        reports, errors = verify_paths(paths, timeout=args.timeout, dims=_dims(args.dim),
                                       convention=args.convention)
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
    """Evaluate, backpropagate and render; 1 (after drawing) when a value or gradient is not
    finite, with the first op that made it in red."""
    from autograd_lite.expression import evaluate, first_nonfinite, parse_inputs
    from autograd_lite.graph import check_output_path, render
    from autograd_lite.modes import retain_grads

    expression = _expression(args)
    specs = parse_inputs(args.input)
    output = check_output_path(args.output)
    # NaN/Inf are reported below, once; the library's warnings as one line each.
    with retain_grads(), np.errstate(all="ignore"), warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        evaluation = evaluate(expression, specs, seed=args.seed, max_elements=args.max_elements)
        out = evaluation.output
        out.name = out.name or "output"
        if out.requires_grad:
            out.backward(np.ones(out.shape, dtype=out.dtype))
    for message in dict.fromkeys(str(w.message) for w in said):
        _say("graph", f"warning: {message}")
    found = first_nonfinite(evaluation)
    highlight = {found[0]: f"NaN/Inf: {found[1]}"} if found else None
    path = render(out, output, highlight=highlight, max_depth=args.max_depth, title=expression)
    print(f"wrote {path} (output shape {out.shape})")
    if found:
        _say("graph", f"warning: {found[1]} (drawn in red)")
        return 1
    return 0


def _explain(args: argparse.Namespace) -> int:
    """Evaluate the expression (a scalar) on seeded random inputs and print, or write with -o,
    the Markdown explanation of its backward pass (``al.explain``)."""
    from autograd_lite.explain import explain
    from autograd_lite.expression import evaluate, parse_inputs

    expression = _expression(args, "explain")
    specs = parse_inputs(args.input)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (values do not enter the explanation)
        out = evaluate(expression, specs, seed=args.seed, max_elements=args.max_elements).output
    if out.size != 1:
        raise ExpressionError(f"the expression has shape {out.shape}; explain needs a scalar "
                              "loss: reduce it, e.g. sum(...) or mean(...)")
    if not out.requires_grad:
        raise ExpressionError("the expression depends on no floating input, so it has no "
                              "backward pass to explain")
    markdown = explain(out).markdown
    if args.output is None:
        print(markdown)
        return 0
    try:
        Path(args.output).write_text(markdown + "\n", encoding="utf-8")
    except OSError as exc:
        raise ExpressionError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    print(f"wrote {args.output}")
    return 0


def _expression(args: argparse.Namespace, command: str = "graph") -> str:
    if args.expression is not None and args.expr is not None:
        raise ExpressionError("give the expression once: as the argument or as --expr")
    expression = args.expr if args.expr is not None else args.expression
    if expression is None:
        raise ExpressionError(f'the expression is missing: autograd-lite {command} "EXPRESSION" '
                              "--input NAME=SHAPE … (an expression that starts with - goes "
                              'after --, or as --expr="-x")')
    return expression


def _ops(args: argparse.Namespace) -> int:
    from autograd_lite.registry import get_op, op_families

    for family, names in op_families().items():
        print(f"{family}:")
        for name in names:
            doc = (get_op(name).doc or "").splitlines()
            print(f"  {name:<22} {doc[0] if doc else ''}")
    return 0


def _say(command: str | None, message: str) -> None:
    """One line on stderr: ``autograd-lite COMMAND: message`` (newlines folded, length capped)."""
    line = " ".join(str(message).split())
    if len(line) > MESSAGE_CHARS:
        line = line[:MESSAGE_CHARS] + " …"
    print(f"autograd-lite{' ' + command if command else ''}: {line}", file=sys.stderr)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, ``autograd-lite graph: error: …``, exit 2."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("autograd-lite").strip() or None
        if len(message) > 300:
            message = message[:300] + " …"
        _say(command, f"error: {message} (see --help)")
        raise SystemExit(2)


def _natural(least: int, most: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number from ``least`` (to ``most``)."""
    def convert(text: str) -> int:
        try:
            value = int(text.replace("_", "")) if len(text) <= 30 else None
        except ValueError:
            value = None
        if value is None or value < least or (most is not None and value > most):
            upper = f" to {most:,}" if most is not None else " or more"
            raise argparse.ArgumentTypeError(f"expected a whole number from {least}{upper}, "
                                             f"got {text[:30]!r}")
        return value
    return convert


def parser() -> argparse.ArgumentParser:
    from autograd_lite import __version__
    from autograd_lite.expression import DEFAULT_MAX_ELEMENTS

    version = f"autograd-lite {__version__}"
    top = _Parser(
        prog="autograd-lite",
        description="Check hand-derived gradients against reverse-mode autodiff and finite "
                    "differences, and draw computation graphs.")
    top.add_argument("--version", action="version", version=version)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    verify = commands.add_parser(
        "verify", help="verify derivation files (default: the shipped derivations/)",
        description="Verify every Derivation in the given files and folders three ways. Exit "
                    "status: 0 no check fails (KINK and UNRELIABLE do not fail), 1 a check "
                    "fails, 2 a path, file or derivation cannot be verified (the others are "
                    "still checked). Derivation files are Python: only verify files you trust.")
    verify.add_argument("paths", nargs="*",
                        help="derivation .py files, writeups (.md, .tex: checked as written, "
                             "never run) or folders holding them")
    verify.add_argument("--dim", action="append", default=[], type=_dimension,
                        metavar="NAME=SIZE",
                        help="a symbolic size of the writeups, e.g. --dim D_x=10 (repeatable; "
                             f"sizes 1 to {WRITEUP_MAX_SIZE})")
    verify.add_argument("--convention", choices=("row", "column"), default=None,
                        help="vectors in the writeups are rows (h = σ(xW + b), the default) or "
                             "columns (h = σ(Wx + b))")
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
                    "seeded random inputs, backpropagate, and render its graph. Exit status: "
                    "0 drawn, 1 drawn but a value or gradient is NaN/Inf (the op that made it "
                    "in red), 2 refused (one line on stderr). An expression that starts with "
                    '- goes after -- or as --expr="-x". Limits: docs/cli.md.')
    graph.add_argument("expression", nargs="?", help='e.g. "sigmoid(x @ W1 + b1) @ W2 + b2"')
    graph.add_argument("--expr", metavar="EXPRESSION",
                       help='the expression, as an option (--expr="-x * 2")')
    graph.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE",
                       help="an input: x=20x10 (floats), b=5, c=scalar, y=20:int[:N] (labels)")
    graph.add_argument("-o", "--output", default="graph.svg",
                       help="output path; .svg, .png, .pdf or .dot (default graph.svg)")
    graph.add_argument("--seed", type=_natural(0, 2 ** 64 - 1), default=0,
                       help="seed of the random inputs (0 to 2**64 - 1; default 0)")
    graph.add_argument("--max-depth", type=_natural(1), default=None,
                       help="draw only the ops this many steps from the output")
    graph.add_argument("--max-elements", type=_natural(1), default=DEFAULT_MAX_ELEMENTS,
                       metavar="N",
                       help="budget of array elements for the whole evaluation, checked before "
                            f"allocating (default {DEFAULT_MAX_ELEMENTS:,})")
    explain = commands.add_parser(
        "explain", help="write the backward pass of a scalar expression as a derivation",
        description="Evaluate the scalar EXPRESSION (as graph does: parsed and whitelisted, "
                    "never executed) and write its backward pass as a chain-rule derivation in "
                    "Markdown with LaTeX, one step per gradient, which `autograd-lite verify` "
                    "checks line by line. Exit status: 0 written, 2 refused (one line on "
                    "stderr). See docs/explain.md.")
    explain.add_argument("expression", nargs="?",
                         help='e.g. "sum(-y * log_softmax(sigmoid(x @ W1 + b1) @ W2 + b2))"')
    explain.add_argument("--expr", metavar="EXPRESSION", help="the expression, as an option")
    explain.add_argument("--input", action="append", default=[], metavar="NAME=SHAPE",
                         help="an input: x=20x10 (floats), b=5, c=scalar, y=20:int[:N]")
    explain.add_argument("-o", "--output", default=None, metavar="FILE",
                         help="write the Markdown to FILE (default: print it)")
    explain.add_argument("--seed", type=_natural(0, 2 ** 64 - 1), default=0,
                         help="seed of the random inputs (default 0)")
    explain.add_argument("--max-elements", type=_natural(1), default=DEFAULT_MAX_ELEMENTS,
                         metavar="N", help="budget of array elements for the evaluation "
                                           f"(default {DEFAULT_MAX_ELEMENTS:,})")
    ops = commands.add_parser("ops", help="list the registered ops")
    for command in (verify, graph, explain, ops):
        command.add_argument("--version", action="version", version=version)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args, extra = parser().parse_known_args(argv)
    if extra:  # (reported here so that the message names the command, on one line)
        from autograd_lite.expression import excerpt

        hint = ""
        if args.command in ("graph", "explain") and any(e.startswith("-") for e in extra):
            hint = (f'; an expression that starts with - goes after -- ({args.command} --input '
                    'x=3 -- "-x") or as --expr="-x"')
        _say(args.command, f"error: unrecognized arguments: {excerpt(' '.join(extra))}{hint}")
        return 2
    handlers = {"verify": _verify, "graph": _graph, "explain": _explain, "ops": _ops}
    try:
        return handlers[args.command](args)
    except AutogradLiteError as exc:
        if args.command == "verify":
            print(f"autograd-lite {args.command}: {exc}", file=sys.stderr)
        else:
            _say(args.command, f"error: {exc}")
        return 2
    except (MemoryError, RecursionError) as exc:
        _say(args.command, f"error: out of {'memory' if isinstance(exc, MemoryError) else 'stack'}"
                           "; make the inputs or the expression smaller")
        return 2
    except KeyboardInterrupt:
        _say(args.command, "interrupted")
        return 130
    except Exception as exc:  # a bug of ours: still one line, never a traceback, for graph
        if args.command not in ("graph", "explain"):
            raise
        _say(args.command, f"error: internal error ({type(exc).__name__}: {str(exc)[:200]}); "
                      "please report it with the command line")
        return 2


if __name__ == "__main__":
    sys.exit(main())
