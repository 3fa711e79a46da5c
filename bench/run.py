"""autograd_lite's benchmarks, each a ratio to hand-written NumPy measured in the same run.

    python bench/run.py            # everything (about two minutes on 2 cores)
    python bench/run.py --quick    # fewer samples
    python bench/run.py --markdown bench/out/run.md   # also the table (copy it to RESULTS.md)

Timings alternate the contenders (A B A B ...) after a warm-up, so a drifting machine affects
both alike. Times are medians; a ratio is the median of the round-by-round ratios (each round runs
the contenders back to back), shown with its quartiles. PyTorch, HIPS autograd and JAX join as
extra columns where they are installed (pip install -e ".[bench]"); they are never required.

Two targets are in seconds (the deep chain, the randomized gradcheck), set on a machine where
NumPy by hand took REFERENCE_NUMPY's times; their rows also show the figure scaled to that
machine (the ratio to NumPy here times NumPy's time there) and a verdict for it. Large-array
figures are measured with the default allocator and with heap trimming off (the verdict); see
NO_TRIM.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import autograd_lite as al  # noqa: E402

SIZES = {"tiny": (20, 10, 5, 10), "mid": (256, 784, 256, 10), "big": (2048, 1024, 1024, 1000)}
TARGETS = {"net tiny": 2.0, "net mid": 1.05, "net big": 1.03, "op overhead": 2.0,
           "deep chain 100k": 0.5, "gradcheck randomized 200k": 0.010,
           "gradcheck full 5k": 1.2, "verify catalogue": 1.5, "import": 0.150,
           "graph DOT 10k ops": 1.0,
           "peak memory net big": 1.2}
# The two targets given in seconds were set on a machine where NumPy by hand took these times
# for the same work (the peer table): a figure's ratio to NumPy here times this is what
# it would take there, which shows whether a miss is the engine's or this machine's speed.
REFERENCE_NUMPY = {"deep chain 100k": 0.13, "gradcheck randomized 200k": 2.81e-3}


# ------------------------------------------------------------------------------ timing
class Timings(dict):
    """Median seconds per call of each contender (the mapping), and each round's times."""

    def __init__(self, rounds: dict[str, list[float]]) -> None:
        super().__init__({name: statistics.median(times) for name, times in rounds.items()})
        self.rounds = rounds

    def paired_ratio(self, name: str, base: str = "numpy") -> tuple[float, float, float]:
        """The median and quartiles of ``name``'s time over ``base``'s, round by round: the
        two ran back to back in each round, so a machine that drifts between rounds cancels
        out of each ratio."""
        ratios = [a / b for a, b in zip(self.rounds[name], self.rounds[base])]
        if len(ratios) < 2:
            return ratios[0], ratios[0], ratios[0]
        low, median, high = statistics.quantiles(ratios, n=4)
        return median, low, high


def alternate(contenders: dict[str, Callable[[], object]], samples: int, inner: int = 1,
              warmup: int = 2) -> Timings:
    """Seconds per call of each contender, timed in alternation (A B A B ...)."""
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(samples):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    return Timings(times)


# --------------------------------------------------------------------------------- the net
def net_data(n: int, dx: int, h: int, dy: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, dx)), rng.standard_normal((dx, h)) * 0.1,
            rng.standard_normal(h) * 0.1, rng.standard_normal((h, dy)) * 0.1,
            rng.standard_normal(dy) * 0.1, rng.integers(0, dy, n))


def numpy_net(X, W1, b1, W2, b2, labels):
    """The closed-form forward and backward, written by hand."""
    n = X.shape[0]
    h = 1.0 / (1.0 + np.exp(-(X @ W1 + b1)))
    theta = h @ W2 + b2
    shifted = theta - theta.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    total = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(total[:, 0]) - shifted[rows, labels])
    delta3 = e / total
    delta3[rows, labels] -= 1.0
    delta3 /= n
    dW2, db2 = h.T @ delta3, delta3.sum(axis=0)
    delta2 = (delta3 @ W2.T) * h * (1.0 - h)
    dW1, db1, dX = X.T @ delta2, delta2.sum(axis=0), delta2 @ W1.T
    return loss, (dX, dW1, db1, dW2, db2)


def numpy_net_step(X, W1, b1, W2, b2, labels):
    """A closure doing one training step by hand that keeps its gradients until the next step,
    as ``.grad`` keeps autograd_lite's: both contenders free last step's results at the start
    of a step, so the allocator sees the same lifetimes (it matters: glibc returns freed heap
    tops to the kernel, and a step that touches fresh pages pays a page fault per 4 KiB)."""
    held = [None]

    def step():
        held[0] = None
        held[0] = numpy_net(X, W1, b1, W2, b2, labels)
        return held[0]

    return step


def autograd_lite_net(X, W1, b1, W2, b2, labels):
    """A closure doing one training step's loss and gradients with autograd_lite."""
    params = [al.Tensor(a, requires_grad=True) for a in (X, W1, b1, W2, b2)]

    def step():
        for p in params:
            p.grad = None
        x, w1, c1, w2, c2 = params
        loss = al.softmax_cross_entropy(al.sigmoid(x @ w1 + c1) @ w2 + c2, labels)
        loss.backward()
        return loss.data, tuple(p.grad for p in params)

    return step


def jax_modules() -> tuple[Any, Any] | None:
    """(jax, jax.numpy) with float64 switched on, as every other contender computes, or None
    where JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def jax_eager_and_jit(jax: Any, gradient: Callable[[Any], Any], argument: Any
                      ) -> dict[str, Callable[[], object]]:
    """``gradient(argument)`` op by op and compiled, each waited for: JAX dispatches
    asynchronously, and a call counts until its gradients are computed."""
    return {name: (lambda run=run: jax.block_until_ready(run(argument)))
            for name, run in (("JAX eager", gradient), ("JAX jit", jax.jit(gradient)))}


def peers_net(X, W1, b1, W2, b2, labels) -> dict[str, Callable[[], object]]:
    """One training step (loss and the gradients of all five inputs) in each peer that is
    installed; each step returns its gradients in the order X, W1, b1, W2, b2."""
    peers: dict[str, Callable[[], object]] = {}
    try:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        tensors = [torch.tensor(a, requires_grad=True) for a in (X, W1, b1, W2, b2)]
        target = torch.tensor(labels)

        def torch_step():
            for t in tensors:
                t.grad = None
            x, w1, c1, w2, c2 = tensors
            loss = torch.nn.functional.cross_entropy(torch.sigmoid(x @ w1 + c1) @ w2 + c2, target)
            loss.backward()
            return [t.grad for t in tensors]

        peers["PyTorch"] = torch_step
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp

        def hips_loss(params):
            x, w1, c1, w2, c2 = params
            theta = (1 / (1 + anp.exp(-(x @ w1 + c1)))) @ w2 + c2
            shifted = theta - anp.max(theta, axis=1, keepdims=True)
            logp = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
            return -anp.mean(logp[np.arange(len(labels)), labels])

        hips_grad = autograd.grad(hips_loss)
        peers["HIPS autograd"] = lambda: hips_grad([X, W1, b1, W2, b2])
    except ImportError:
        pass
    modules = jax_modules()
    if modules is not None:
        jax, jnp = modules
        rows = jnp.arange(len(labels))

        def jax_loss(params):
            x, w1, c1, w2, c2 = params
            theta = jax.nn.sigmoid(x @ w1 + c1) @ w2 + c2
            return -jnp.mean(jax.nn.log_softmax(theta, axis=1)[rows, labels])

        inputs = tuple(jnp.asarray(a) for a in (X, W1, b1, W2, b2))
        peers.update(jax_eager_and_jit(jax, jax.grad(jax_loss), inputs))
    return peers


def check_peer_gradients(peers: dict[str, Callable[[], object]], expected: tuple) -> None:
    """Refuse to time a peer whose gradients differ from NumPy by hand's (relative to each
    gradient's largest element: float64 sums in another order differ by about 1e-15)."""
    for name, step in peers.items():
        for label, got, want in zip(("X", "W1", "b1", "W2", "b2"), step(), expected):
            got = np.asarray(got.detach() if hasattr(got, "detach") else got)
            error = float(np.abs(got - want).max()) / float(np.abs(want).max())
            if not error <= 1e-10:
                raise AssertionError(f"{name}: the gradient of {label} differs from NumPy's by "
                                     f"{error:.1e} of its largest element")


def faults_per_call(fn: Callable[[], object], calls: int = 20) -> float:
    """Minor page faults per call of ``fn`` (each is a fresh 4 KiB page the kernel zeroes)."""
    fn()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(calls):
        fn()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / calls


# glibc gives a freed heap top back to the kernel once it exceeds a threshold that adapts to
# the sizes freed; the next step then faults those pages in again. Whether a step lands on such
# pages depends on the history of the whole process, not on the engine: the same code measured
# anywhere from 0.8x to 1.5x NumPy at the mid size. The net figures and the randomized gradcheck
# (large arrays, each call allocating afresh) are therefore measured twice: in this process
# (default allocator) and in a child with heap trimming off for both contenders (the verdict).
NO_TRIM = {"MALLOC_TRIM_THRESHOLD_": str(2**30), "MALLOC_MMAP_THRESHOLD_": str(2**25)}


def measure_net(samples: int) -> dict[str, dict]:
    """Per size: medians, peer ratios, page faults per step and the gradients' agreement."""
    results = {}
    for label, (n, dx, h, dy) in SIZES.items():
        data = net_data(n, dx, h, dy)
        ours = autograd_lite_net(*data)
        loss_ours, grads_ours = ours()
        loss_np, grads_np = numpy_net(*data)
        agreement = max(float(np.abs(a - b).max()) for a, b in zip(grads_ours, grads_np))
        count = samples if label != "big" else max(5, samples // 4)
        inner = 50 if label == "tiny" else 1
        baseline = numpy_net_step(*data)
        peers = peers_net(*data)
        check_peer_gradients(peers, grads_np)
        contenders = {"numpy": baseline, "autograd_lite": ours, **peers}
        medians = alternate(contenders, count, inner=inner)
        calls = 20 if label != "big" else 3
        results[label] = {"medians": medians, "agreement": agreement,
                          "ratios": {name: medians.paired_ratio(name) for name in medians
                                     if name != "numpy"},
                          "loss": abs(float(loss_ours) - loss_np),
                          "faults": (faults_per_call(ours, calls),
                                     faults_per_call(baseline, calls))}
    return results


def without_heap_trimming(measure: str, samples: int) -> dict:
    """``MEASURES[measure](samples)``, run in a child process with heap trimming off."""
    child = subprocess.run([sys.executable, __file__, "--child", measure, str(samples)],
                           env={**os.environ, **NO_TRIM}, check=True, capture_output=True,
                           text=True)
    return json.loads(child.stdout.splitlines()[-1])


def bench_net(samples: int) -> list[dict]:
    default = measure_net(samples)
    no_trim = without_heap_trimming("net", samples)
    rows = []
    for label, result in no_trim.items():
        medians, ratios = result["medians"], result["ratios"]
        ratio_default = default[label]["ratios"]["autograd_lite"][0]
        faults, faults_default = result["faults"], default[label]["faults"]
        rows.append({"figure": f"net {label}", "numpy": medians["numpy"],
                     "ours": medians["autograd_lite"],
                     "ratio": ratios["autograd_lite"][0],
                     "spread": ratios["autograd_lite"][1:],
                     "peers": {k: v[0] for k, v in ratios.items() if k != "autograd_lite"},
                     "note": f"heap trimming off for both ({faults[0]:.0f} vs {faults[1]:.0f} "
                             f"page faults a step); default glibc malloc: "
                             f"{ratio_default:.2f}× ({faults_default[0]:.0f} vs "
                             f"{faults_default[1]:.0f} faults a step). Gradients agree with "
                             f"NumPy's to {result['agreement']:.1e} (max abs), loss to "
                             f"{result['loss']:.1e}"})
    return rows


# --------------------------------------------------------------------- op overhead, chains
def chain_ops(length: int):
    kinds = ["add", "mul", "sigmoid", "tanh"]
    return [kinds[i % 4] for i in range(length)]


def numpy_chain(x0: np.ndarray, kinds: list[str]) -> np.ndarray:
    """Forward then backward of the chain, by hand: each step's derivative from its output."""
    values = [x0]
    for kind in kinds:
        x = values[-1]
        if kind == "add":
            values.append(x + 0.1)
        elif kind == "mul":
            values.append(x * 0.9)
        elif kind == "sigmoid":
            values.append(1.0 / (1.0 + np.exp(-x)))
        else:
            values.append(np.tanh(x))
    g = np.ones_like(values[-1])
    for kind, out in zip(reversed(kinds), reversed(values[1:])):
        if kind == "mul":
            g = g * 0.9
        elif kind == "sigmoid":
            g = g * out * (1.0 - out)
        elif kind == "tanh":
            g = g * (1.0 - out * out)
    return g


def chain_forward(h: Any, kinds: list[str], sigmoid: Callable[[Any], Any],
                  tanh: Callable[[Any], Any]) -> Any:
    """The chain's forward pass in any library that overloads + and *."""
    for kind in kinds:
        if kind == "add":
            h = h + 0.1
        elif kind == "mul":
            h = h * 0.9
        elif kind == "sigmoid":
            h = sigmoid(h)
        else:
            h = tanh(h)
    return h


def autograd_lite_chain(x0: np.ndarray, kinds: list[str]) -> np.ndarray:
    x = al.Tensor(x0, requires_grad=True)
    chain_forward(x, kinds, al.sigmoid, al.tanh).sum().backward()
    return x.grad


def peers_chain(x0: np.ndarray, kinds: list[str], with_jax: bool = True
                ) -> dict[str, Callable[[], object]]:
    """The chain, forward then backward, in each peer that is installed (JAX only if
    ``with_jax``)."""
    peers: dict[str, Callable[[], object]] = {}
    try:
        import torch

        def torch_chain():
            x = torch.tensor(x0, requires_grad=True)
            chain_forward(x, kinds, torch.sigmoid, torch.tanh).sum().backward()
            return x.grad

        peers["PyTorch"] = torch_chain
    except ImportError:
        pass
    try:
        import autograd
        import autograd.numpy as anp

        hips_grad = autograd.grad(lambda x: anp.sum(chain_forward(
            x, kinds, lambda h: 1.0 / (1.0 + anp.exp(-h)), anp.tanh)))
        peers["HIPS autograd"] = lambda: hips_grad(x0)
    except ImportError:
        pass
    modules = jax_modules() if with_jax else None
    if modules is not None:
        jax, jnp = modules
        jax_grad = jax.grad(lambda x: jnp.sum(chain_forward(x, kinds, jax.nn.sigmoid, jnp.tanh)))
        peers.update(jax_eager_and_jit(jax, jax_grad, jnp.asarray(x0)))
    return peers


def bench_overhead(samples: int) -> list[dict]:
    kinds = chain_ops(1000)
    x0 = np.linspace(-1, 1, 4)
    np.testing.assert_allclose(autograd_lite_chain(x0, kinds), numpy_chain(x0, kinds),
                               rtol=1e-12)
    peers = peers_chain(x0, kinds)
    for run_peer in peers.values():  # each peer's gradient is checked before it is timed
        np.testing.assert_allclose(np.asarray(run_peer()), numpy_chain(x0, kinds), rtol=1e-12)
    medians = alternate({"numpy": lambda: numpy_chain(x0, kinds),
                         "ours": lambda: autograd_lite_chain(x0, kinds), **peers}, samples)
    per_op_np, per_op = medians["numpy"] / 1000, medians["ours"] / 1000
    ratio, *spread = medians.paired_ratio("ours")
    rows = [{"figure": "op overhead", "numpy": per_op_np, "ours": per_op,
             "ratio": ratio, "spread": spread,
             "peers": {name: medians.paired_ratio(name)[0] for name in peers},
             "note": f"{per_op * 1e6:.2f} µs per op (fwd+bwd) vs NumPy by hand "
                     f"{per_op_np * 1e6:.2f} µs"}]

    deep = chain_ops(100_000)
    x1 = np.array([0.3])
    peaks = []
    for _ in range(3):  # traced runs, not timed
        gc.collect()
        tracemalloc.start()
        autograd_lite_chain(x1, deep)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    peers = peers_chain(x1, deep, with_jax=False)  # (see DEEP_CHAIN_WITHOUT_JAX)
    deep_medians = alternate({"numpy": lambda: numpy_chain(x1, deep),
                              "ours": lambda: autograd_lite_chain(x1, deep), **peers},
                             samples=5, warmup=1)
    numpy_time, ours_time = deep_medians["numpy"], deep_medians["ours"]
    rows.append({"figure": "deep chain 100k", "numpy": numpy_time, "ours": ours_time,
                 "ratio": None, "numpy_ratio": deep_medians.paired_ratio("ours")[0],
                 "peers": {name: deep_medians.paired_ratio(name)[0] for name in peers},
                 "note": f"fwd+bwd; {deep_medians.paired_ratio('ours')[0]:.2f}× NumPy by hand "
                         f"({numpy_time:.3f} s) in the same run (peers: × NumPy); peak traced "
                         f"memory {statistics.median(peaks) / 2**20:.0f} MiB; no recursion"
                         + (f"; {DEEP_CHAIN_WITHOUT_JAX}" if jax_modules() else "")})
    return rows


# JAX joins the 1000-op chain only. On the deep chain its eager mode took 37-41 s a run here
# (timed apart, 2026-11-22), over a hundred times NumPy by hand, and jit compiling did not
# finish on the peer machine.
DEEP_CHAIN_WITHOUT_JAX = ("JAX not timed (eager: 37–41 s a run here, timed apart; jit did not "
                          "finish compiling 100,000 ops on the peer machine)")


# ------------------------------------------------------------------------------- gradcheck
def bench_gradcheck(samples: int) -> list[dict]:
    X, W1, b1, W2, b2, labels = net_data(256, 100, 50, 10)

    def loss_of_w1(w1):
        return al.softmax_cross_entropy(al.sigmoid(X @ w1 + b1) @ W2 + b2, labels)

    def numpy_loop():
        """The same check as a plain NumPy loop of central differences."""
        def f(w1):
            theta = (1 / (1 + np.exp(-(X @ w1 + b1)))) @ W2 + b2
            shifted = theta - theta.max(axis=1, keepdims=True)
            return np.mean(np.log(np.exp(shifted).sum(axis=1)) -
                           shifted[np.arange(len(labels)), labels])
        w = W1.copy()
        grad = np.zeros_like(w)
        for j in range(w.size):
            old = w.flat[j]
            w.flat[j] = old + 1e-6
            up = f(w)
            w.flat[j] = old - 1e-6
            down = f(w)
            w.flat[j] = old
            grad.flat[j] = (up - down) / 2e-6
        return grad

    full = alternate({"numpy": numpy_loop, "ours": lambda: al.gradcheck(loss_of_w1, W1)},
                     max(3, samples // 5), warmup=1)
    ratio, *spread = full.paired_ratio("ours")
    rows = [{"figure": "gradcheck full 5k", "numpy": full["numpy"], "ours": full["ours"],
             "ratio": ratio, "spread": spread, "peers": {},
             "note": "seconds; W1 of the net at N=256, (100, 50, 10): 5,000 elements"}]
    default, no_trim = measure_gradcheck_fast(samples), without_heap_trimming("gradcheck", samples)
    ratio, faults = no_trim["ratio"], no_trim["faults"]
    rows.append({"figure": "gradcheck randomized 200k", "numpy": no_trim["numpy"],
                 "ours": no_trim["ours"], "ratio": None, "numpy_ratio": ratio, "peers": {},
                 "note": f"all 5 inputs of the net at (784, 256, 10), N=256: "
                         f"{no_trim['parameters']:,} parameters + X; heap trimming off for both "
                         f"({faults[0]:.0f} vs {faults[1]:.0f} page faults a call): {ratio:.2f}× "
                         f"one NumPy loss+gradient ({no_trim['numpy'] * 1e3:.2f} ms); default "
                         f"glibc malloc: {default['ours'] * 1e3:.1f} ms, {default['ratio']:.2f}× "
                         f"NumPy's {default['numpy'] * 1e3:.2f} ms ({default['faults'][0]:.0f} "
                         f"vs {default['faults'][1]:.0f} faults a call)"})
    return rows


def measure_gradcheck_fast(samples: int) -> dict:
    """The randomized check of every input of the mid net against one NumPy loss and gradient:
    medians, their paired ratio and the page faults per call of each."""
    X, W1, b1, W2, b2, labels = net_data(256, 784, 256, 10)
    params = [X, W1, b1, W2, b2]

    def loss_all(x, w1, c1, w2, c2):
        return al.softmax_cross_entropy(al.sigmoid(x @ w1 + c1) @ w2 + c2, labels)

    def check():
        return al.gradcheck(loss_all, *params, fast_mode=True)

    def numpy_step():
        return numpy_net(*params, labels)

    assert check()
    timings = alternate({"numpy": numpy_step, "ours": check}, samples)
    return {"numpy": timings["numpy"], "ours": timings["ours"],
            "ratio": timings.paired_ratio("ours")[0],
            "faults": (faults_per_call(check), faults_per_call(numpy_step)),
            "parameters": sum(p.size for p in params[1:])}


# ------------------------------------------------------------------------- whole commands
def bytecode_cached(source: Path) -> bool:
    """Whether ``source`` has bytecode in __pycache__ at least as new as itself."""
    compiled = Path(importlib.util.cache_from_source(str(source)))
    return compiled.exists() and compiled.stat().st_mtime >= source.stat().st_mtime


def bench_commands(samples: int) -> list[dict]:
    python = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def command(*args: str) -> Callable[[], object]:
        return lambda: subprocess.run([python, *args], cwd=ROOT, env=env, check=True,
                                      capture_output=True)

    # Importing compiles any module whose bytecode is not cached: ~25 ms for the package, paid
    # on every start where PYTHONDONTWRITEBYTECODE is set and no install compiled it (pip
    # compiles a regular install; scripts/setup.sh compiles the editable one).
    sources = list((ROOT / "autograd_lite").glob("*.py"))
    cached = sum(map(bytecode_cached, sources))
    starts = alternate({"bare": command("-c", "pass"), "numpy": command("-c", "import numpy"),
                        "ours": command("-c", "import autograd_lite")}, samples, warmup=1)
    bare, numpy_import, ours_import = starts["bare"], starts["numpy"], starts["ours"]
    own = statistics.quantiles([ours - numpy for ours, numpy in  # round by round
                                zip(starts.rounds["ours"], starts.rounds["numpy"])], n=4)
    verify = alternate({"verify": command("-m", "autograd_lite.cli", "verify", "derivations")},
                       max(3, samples // 2), warmup=1)["verify"]
    return [{"figure": "import", "numpy": numpy_import - bare, "ours": ours_import - bare,
             "ratio": None, "peers": {},
             "note": f"seconds above a bare interpreter ({bare * 1e3:.0f} ms); NumPy alone "
                     f"{(numpy_import - bare) * 1e3:.0f} ms; autograd_lite's own, round by "
                     f"round: {own[1] * 1e3:.0f} ms (quartiles {own[0] * 1e3:.0f} to "
                     f"{own[2] * 1e3:.0f}); bytecode cached for "
                     f"{cached} of its {len(sources)} modules; graphviz is imported only to "
                     "draw"},
            {"figure": "verify catalogue", "numpy": None, "ours": verify, "ratio": None,
             "peers": {}, "note": "seconds wall, `autograd-lite verify derivations` from the "
                                  "shell, interpreter start and imports included"}]


def bench_graph(samples: int) -> list[dict]:
    from autograd_lite.graph import to_dot

    x = al.Tensor(np.ones(2), requires_grad=True)
    h = x
    for _ in range(10_000):
        h = al.tanh(h)
    h.sum().backward(retain_graph=True)
    times = []
    for _ in range(max(3, samples // 3)):
        start = time.perf_counter()
        source = to_dot(h).source
        times.append(time.perf_counter() - start)
    return [{"figure": "graph DOT 10k ops", "numpy": None, "ours": statistics.median(times),
             "ratio": None, "peers": {},
             "note": f"seconds to build the DOT text of a 10,000-op chain "
                     f"({source.count('[label=')} vertices); rendering refuses > 2,000"}]


# ---------------------------------------------------------------------------------- memory
def traced_peak(fn: Callable[[], object]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def bench_memory() -> list[dict]:
    data = net_data(*SIZES["big"])
    ours = autograd_lite_net(*data)
    ours()
    numpy_peak = traced_peak(lambda: numpy_net(*data))
    our_peak = traced_peak(ours)

    # the arrays saved for backward are released by backward()
    X, W1, b1, W2, b2, labels = data
    params = [al.Tensor(a, requires_grad=True) for a in (W1, b1, W2, b2)]
    gc.collect()
    tracemalloc.start()
    loss = al.softmax_cross_entropy(al.sigmoid(X @ params[0] + params[1]) @ params[2]
                                    + params[3], labels)
    held = tracemalloc.get_traced_memory()[0]
    loss.backward()
    grads = sum(p.grad.nbytes for p in params)
    after = tracemalloc.get_traced_memory()[0] - grads
    tracemalloc.stop()
    del loss

    # no growth over 10,000 tiny steps
    step = autograd_lite_net(*net_data(*SIZES["tiny"]))
    for _ in range(200):
        step()
    gc.collect()
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    for _ in range(10_000):
        step()
    gc.collect()
    growth = tracemalloc.get_traced_memory()[0] - start
    tracemalloc.stop()
    return [{"figure": "peak memory net big", "numpy": numpy_peak, "ours": our_peak,
             "ratio": our_peak / numpy_peak, "peers": {},
             "note": f"tracemalloc peaks {our_peak / 2**20:.0f} vs {numpy_peak / 2**20:.0f} MiB; "
                     f"saved for backward {held / 2**20:.0f} MiB, left after backward "
                     f"(gradients aside) {after / 2**20:.1f} MiB; growth over 10,000 tiny steps "
                     f"{growth / 1024:.1f} KiB"}]


# ----------------------------------------------------------------------------------- table
def figure_value(row: dict) -> float:
    return row["ratio"] if row["ratio"] is not None else row["ours"]


def scaled_to_reference(row: dict) -> float | None:
    """The figure at the reference machine's speed (see REFERENCE_NUMPY), for targets in
    seconds: its ratio to NumPy by hand here times NumPy by hand's time there."""
    reference = REFERENCE_NUMPY.get(row["figure"])
    return None if reference is None else row["numpy_ratio"] * reference


def verdict(row: dict) -> str:
    target = TARGETS.get(row["figure"])
    if target is None:
        return ""
    here = "meets" if figure_value(row) <= target else "misses"
    scaled = scaled_to_reference(row)
    if scaled is None:
        return here
    return f"{here} (scaled: {'meets' if scaled <= target else 'misses'})"


def render(rows: list[dict]) -> str:
    peers = sorted({name for row in rows for name in row["peers"]})
    head = ["figure", "autograd_lite", "target", "verdict", *peers, "notes"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        value = figure_value(row)
        shown = f"{value:.2f}×" if row["ratio"] is not None else (
            f"{value * 1e3:.1f} ms" if value < 1 else f"{value:.2f} s")
        if row.get("spread"):  # the quartiles of the round-by-round ratios
            shown += " ({:.2f}–{:.2f})".format(*row["spread"])
        scaled = scaled_to_reference(row)
        if scaled is not None:
            shown += (f" (scaled: {scaled * 1e3:.1f} ms)" if scaled < 1
                      else f" (scaled: {scaled:.2f} s)")
        target = TARGETS.get(row["figure"])
        target_text = "" if target is None else (
            f"≤ {target:.2f}×" if row["ratio"] is not None else
            (f"≤ {target * 1e3:.0f} ms" if target < 1 else f"≤ {target:.1f} s"))
        cells = [row["figure"], shown, target_text, verdict(row)]
        cells += [f"{row['peers'][p]:.2f}×" if p in row["peers"] else "—" for p in peers]
        cells.append(row["note"])
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> str:
    import numpy

    config = ""
    try:
        info = numpy.show_config(mode="dicts")
        config = info["Build Dependencies"]["blas"]["name"]
    except Exception:
        pass
    return (f"{date.today()}, {platform.processor() or platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, NumPy "
            f"{numpy.__version__} ({config or 'BLAS unknown'}), float64")


# what without_heap_trimming() can measure in its child process
MEASURES: dict[str, Callable[[int], dict]] = {"net": measure_net,
                                              "gradcheck": measure_gradcheck_fast}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--markdown", metavar="PATH", help="also write the table to PATH")
    parser.add_argument("--only", nargs="*",
                        help="net, overhead, gradcheck, commands, graph, memory")
    parser.add_argument("--child", nargs=2, metavar=("MEASURE", "SAMPLES"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # the child process of without_heap_trimming()
        measure, samples = args.child
        print(json.dumps(MEASURES[measure](int(samples))))
        return 0
    samples = 7 if args.quick else 21
    sections = {"net": bench_net, "overhead": bench_overhead, "gradcheck": bench_gradcheck,
                "commands": bench_commands, "graph": bench_graph,
                "memory": lambda _: bench_memory()}
    rows: list[dict] = []
    for name, fn in sections.items():
        if args.only and name not in args.only:
            continue
        rows += fn(samples)
        print(render(rows[-1:]).splitlines()[-1], flush=True)
    table = render(rows)
    text = f"Measured {machine()}; `python bench/run.py`.\n\n{table}\n"
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text("# Benchmark results\n\n" + text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
