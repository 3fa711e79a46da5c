"""Instructions, counted by valgrind's callgrind, for two workloads of bench/run.py: an op of the
1000-op chain (forward + backward) and a training step of the tiny net, each for autograd_lite
and for NumPy by hand. A measure that does not drift with the machine, for comparing two
versions of the engine when timings are too noisy to resolve a few per cent.

    python bench/instructions.py            # needs valgrind (apt-get install -y valgrind)

Each contender runs in two child processes under callgrind, one doing the workload ``REPEATS``
times after a warm-up and one doing only the warm-up; the difference, divided by the repeats
(and, for the chain, by its ops), is the count. Hash randomisation is fixed and OpenBLAS uses
one thread, so repeated runs agree to a few instructions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import (
    SIZES,
    autograd_lite_chain,
    autograd_lite_net,
    chain_ops,
    net_data,
    numpy_chain,
    numpy_net_step,
)

OPS, REPEATS = 1000, 10
CONTENDERS = ("autograd_lite", "numpy by hand")
# workload: (what one unit is, units per repeat, the repeats)
WORKLOADS = {"chain": ("op of the chain (fwd+bwd)", OPS, REPEATS),
             "tiny net": ("tiny-net training step", 1, 50 * REPEATS)}


def workload(name: str, contender: str) -> Callable[[], object]:
    """One repeat of ``name`` by ``contender``."""
    ours = contender == "autograd_lite"
    if name == "chain":
        kinds, x0 = chain_ops(OPS), np.linspace(-1, 1, 4)
        run_chain = autograd_lite_chain if ours else numpy_chain
        return lambda: run_chain(x0, kinds)
    data = net_data(*SIZES["tiny"])
    return autograd_lite_net(*data) if ours else numpy_net_step(*data)


def work(name: str, contender: str, repeats: int) -> None:
    """The child: a warm-up, then ``repeats`` more."""
    run_once = workload(name, contender)
    for _ in range(1 + repeats):
        run_once()


def count(name: str, contender: str, repeats: int) -> int:
    """Instructions executed by a child doing ``repeats`` after the warm-up."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out",
             sys.executable, __file__, "--work", name, contender, str(repeats)],
            env=env, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no count:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main() -> int:
    if sys.argv[1:2] == ["--work"]:
        work(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    for name, (unit, per_repeat, repeats) in WORKLOADS.items():
        counts = {}
        for contender in CONTENDERS:
            total = count(name, contender, repeats) - count(name, contender, 0)
            counts[contender] = total / (repeats * per_repeat)
            print(f"{contender}: {counts[contender]:,.0f} instructions per {unit}", flush=True)
        print(f"ratio: {counts['autograd_lite'] / counts['numpy by hand']:.2f}\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
