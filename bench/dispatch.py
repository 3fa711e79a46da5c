"""What NumPy's dispatch costs per op: ``np.exp(t)`` (through Tensor.__array_ufunc__) against
``al.exp(t)`` (the op called directly) and ``np.exp(a)`` on the bare array, timed in alternation.

    python bench/dispatch.py            # about 20 seconds
    python bench/dispatch.py --quick

Each row times the contenders back to back, round after round (A B C A B C ...), on a tensor
that requires grad (so every call records a node), and reports the median time per call; the
dispatch's cost is the difference between the np.* call on a tensor and the direct op call.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import alternate

import autograd_lite as al


def workloads(size: int) -> dict[str, dict[str, Callable[[], object]]]:
    rng = np.random.default_rng(0)
    a = rng.standard_normal(size)
    b = rng.standard_normal(size)
    m = rng.standard_normal((size, 4)) if size < 10_000 else rng.standard_normal((size // 4, 4))
    t, u = al.Tensor(a, requires_grad=True), al.Tensor(b, requires_grad=True)
    tm = al.Tensor(m, requires_grad=True)
    return {
        "exp (ufunc, unary)": {"al.exp(t)": lambda: al.exp(t), "np.exp(t)": lambda: np.exp(t),
                               "np.exp(a)": lambda: np.exp(a)},
        "sin (new op)": {"al.sin(t)": lambda: al.sin(t), "np.sin(t)": lambda: np.sin(t),
                         "np.sin(a)": lambda: np.sin(a)},
        "add (ufunc, binary)": {"t + u": lambda: t + u, "np.add(t, u)": lambda: np.add(t, u),
                                "a + u (ndarray first)": lambda: a + u,
                                "a + b": lambda: a + b},
        "sum(axis=0) (array function)": {
            "al.sum(x, axis=0)": lambda: al.sum(tm, axis=0),
            "np.sum(x, axis=0)": lambda: np.sum(tm, axis=0),
            "np.sum(m, axis=0)": lambda: np.sum(m, axis=0)},
        "var(axis=0, ddof=1) (array function)": {
            "al.var(x, axis=0, ddof=1)": lambda: al.var(tm, axis=0, ddof=1),
            "np.var(x, axis=0, ddof=1)": lambda: np.var(tm, axis=0, ddof=1),
            "np.var(m, axis=0, ddof=1)": lambda: np.var(m, axis=0, ddof=1)},
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args(argv)
    rounds, inner = (15, 200) if args.quick else (41, 1000)
    for size in (3, 100_000):
        rows = size if size < 10_000 else size // 4
        print(f"\nvectors of {size:,}, matrices of ({rows:,}, 4) (median per call, {rounds} "
              f"alternating rounds of {inner if size < 10_000 else inner // 50})")
        for title, contenders in workloads(size).items():
            calls = inner if size < 10_000 else inner // 50
            times = alternate(contenders, rounds, inner=calls, warmup=calls)
            names = list(times)
            direct, dispatched = times[names[0]], times[names[1]]
            print(f"  {title}: dispatch costs {(dispatched - direct) * 1e9:+,.0f} ns per op "
                  f"({dispatched / direct:.2f}x the direct call)")
            for name in names:
                print(f"    {name:<28} {times[name] * 1e9:>12,.0f} ns")


if __name__ == "__main__":
    main()
