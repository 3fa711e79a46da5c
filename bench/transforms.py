"""Function transforms: forward mode's cost and the Jacobian/Hessian transforms' times.

    python bench/transforms.py            # about half a minute on 2 cores
    python bench/transforms.py --quick

1. ``func.jvp`` of an element-wise chain on 10⁶ elements against the chain's plain forward
   (the same autograd_lite function on arrays, and NumPy by hand). Target: jvp ≤ 3× forward.
2. ``jacrev`` and ``jacfwd`` of a 100 → 100 function, and ``hessian`` of a scalar function of
   100 inputs built on it, against PyTorch's ``torch.func`` (vmap-based) when torch is installed.

Times are medians of alternating rounds after a warm-up; the jvp's ratio is the median of the
round-by-round ratios (each round runs the contenders back to back), with its quartiles.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

import autograd_lite as al
from autograd_lite import func as F


def median_time(fn: Callable[[], object], rounds: int, repeat: int = 3) -> float:
    fn()  # warm-up
    times = []
    for _ in range(rounds):
        best = float("inf")
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
        times.append(best)
    return statistics.median(times)


def chain(x):
    """An element-wise chain of 8 ops: tanh(e^(x/2)·x + σ(x))² − x."""
    y = al.exp(x * 0.5) * x + al.sigmoid(x)
    return al.tanh(y) * al.tanh(y) - x


def chain_numpy(x: np.ndarray) -> np.ndarray:
    y = np.exp(x * 0.5) * x + 1.0 / (1.0 + np.exp(-x))
    t = np.tanh(y)
    return t * t - x


def chain_jvp_numpy(x: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The chain and its tangent by hand in NumPy (forward mode's floor for op-by-op rules)."""
    e = np.exp(x * 0.5)
    te = t * 0.5
    te *= e
    a = e * x
    ta = te * x
    ta += e * t
    s = 1.0 / (1.0 + np.exp(-x))
    ts = 1.0 - s
    ts *= s
    ts *= t
    y = a + s
    ty = ta + ts
    z = np.tanh(y)
    tz = 1.0 - z * z
    tz *= ty
    tw = tz * z
    tw *= 2.0
    return z * z - x, tw - t


def bench_jvp(rounds: int) -> None:
    x = np.random.default_rng(0).standard_normal(1_000_000)
    v = np.random.default_rng(1).standard_normal(1_000_000)
    contenders = {"numpy": lambda: chain_numpy(x), "forward": lambda: chain(x),
                  "jvp": lambda: F.jvp(chain, (x,), (v,)),
                  "numpy_jvp": lambda: chain_jvp_numpy(x, v)}
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():
        fn()  # warm-up
    for _ in range(rounds * 3):  # alternating: a drifting machine affects all alike
        for name, fn in contenders.items():
            times[name].append(median_time(fn, 1, repeat=1))
    ratios = sorted(j / f for j, f in zip(times["jvp"], times["forward"]))
    quartiles = statistics.quantiles(ratios, n=4)
    forward, by_hand, tangent = (statistics.median(times[n]) for n in ("forward", "numpy", "jvp"))
    print("jvp of an element-wise chain (8 ops, 10^6 float64 elements)")
    print(f"  NumPy by hand         {by_hand * 1e3:8.2f} ms")
    print(f"  plain forward (al)    {forward * 1e3:8.2f} ms")
    hand = sorted(j / f for j, f in zip(times["numpy_jvp"], times["numpy"]))
    print(f"  func.jvp              {tangent * 1e3:8.2f} ms   = {statistics.median(ratios):.2f}x "
          f"the forward (quartiles {quartiles[0]:.2f}-{quartiles[2]:.2f}; target <= 3x)")
    print(f"  NumPy jvp by hand     {statistics.median(times['numpy_jvp']) * 1e3:8.2f} ms   = "
          f"{statistics.median(hand):.2f}x NumPy's forward (the floor for rules op by op)")


def bench_jacobians(rounds: int) -> None:
    rng = np.random.default_rng(2)
    n = 100
    W, b, x = rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n), \
        rng.standard_normal(n)

    def f(x):  # 100 -> 100
        return al.tanh(W @ x + b) * x

    def loss(x):  # 100 -> 1, for the Hessian
        return al.logsumexp(f(x))

    ours = {
        "jacrev  (100 -> 100)": lambda: F.jacrev(f)(x),
        "jacfwd  (100 -> 100)": lambda: F.jacfwd(f)(x),
        "hessian (100 -> 1)": lambda: F.hessian(loss)(x),
    }
    results = {name: median_time(fn, rounds, repeat=1) for name, fn in ours.items()}
    theirs: dict[str, float] = {}
    try:
        import torch
        from torch import func as tf
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(1)
        Wt, bt, xt = (torch.tensor(a) for a in (W, b, x))

        def ft(x):
            return torch.tanh(Wt @ x + bt) * x

        def losst(x):
            return torch.logsumexp(ft(x), 0)

        # the same numbers first
        np.testing.assert_allclose(tf.jacrev(ft)(xt).numpy(), F.jacrev(f)(x), atol=1e-12)
        np.testing.assert_allclose(tf.hessian(losst)(xt).numpy(), F.hessian(loss)(x),
                                   atol=1e-12)
        pairs = {
            "jacrev  (100 -> 100)": lambda: tf.jacrev(ft)(xt),
            "jacfwd  (100 -> 100)": lambda: tf.jacfwd(ft)(xt),
            "hessian (100 -> 1)": lambda: tf.hessian(losst)(xt),
        }
        theirs = {name: median_time(fn, rounds, repeat=1) for name, fn in pairs.items()}
    print("Jacobians and Hessian, f(x) = tanh(W x + b) * x, n = 100, float64")
    head = "  transform              autograd_lite" + ("   torch.func    ratio"
                                                      if theirs else "")
    print(head + ("" if theirs else "   (torch not installed)"))
    for name, t in results.items():
        line = f"  {name}   {t * 1e3:10.1f} ms"
        if name in theirs:
            line += f"   {theirs[name] * 1e3:8.1f} ms   {t / theirs[name]:6.1f}x"
        print(line)
    if torch is not None:
        print(f"  (torch {torch.__version__}, one thread; torch.func vectorizes the rows with "
              "vmap, autograd_lite runs one pass per row or column)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    rounds = 3 if args.quick else 9
    bench_jvp(rounds)
    print()
    bench_jacobians(rounds)


if __name__ == "__main__":
    main()
