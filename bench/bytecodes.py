"""Where the interpreter's time goes: bytecodes executed per function, for an op of the 1000-op
chain (forward + backward) and for a training step of the tiny net (bench/run.py's workloads).

    python bench/bytecodes.py            # both workloads, the top functions of each
    python bench/bytecodes.py --lines registry.py:apply   # per line of one function

Counted with ``sys.settrace`` and ``f_trace_opcodes`` over one run after a warm-up, so it is exact
and does not drift; it counts bytecodes, not their cost (a bytecode that calls into NumPy counts
once). bench/instructions.py gives the machine instructions of the same workloads.
"""

from __future__ import annotations

import argparse
import collections
import linecache
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from instructions import WORKLOADS, workload


def count(run: Callable[[], object], key: Callable[[FrameType], Any | None]
          ) -> collections.Counter:
    """Bytecodes executed by one call of ``run``, counted by ``key(frame)`` (None: not counted)."""
    run()  # warm-up
    counts: collections.Counter = collections.Counter()

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            k = key(frame)
            if k is not None:
                counts[k] += 1
        return tracer

    sys.settrace(tracer)
    try:
        run()
    finally:
        sys.settrace(None)
    return counts


def by_function(frame: FrameType) -> str:
    return f"{Path(frame.f_code.co_filename).name}:{frame.f_code.co_name}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", metavar="FILE:FUNCTION",
                        help="count per line of this function (e.g. engine.py:_run)")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    for name, (unit, units, _) in WORKLOADS.items():
        run = workload(name, "autograd_lite")
        if args.lines:
            def key(frame: FrameType) -> tuple[str, int] | None:
                if by_function(frame) != args.lines:
                    return None
                return frame.f_code.co_filename, frame.f_lineno or 0

            counts = count(run, key)
            print(f"{name}: bytecodes per {unit} in {args.lines}, by line")
            for (filename, line), n in sorted(counts.items(), key=lambda kv: kv[0][1]):
                print(f"{n / units:9.1f}  {line:4d}  {linecache.getline(filename, line).rstrip()}")
        else:
            counts = count(run, by_function)
            print(f"{name}: {sum(counts.values()) / units:,.0f} bytecodes per {unit}")
            for function, n in counts.most_common(args.top):
                print(f"{n / units:9.1f}  {function}")
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
