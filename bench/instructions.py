"""Instructions per op of the 1000-op chain (forward + backward), ours and NumPy by hand, counted
by valgrind's callgrind: a measure that does not drift with the machine, for comparing two
versions of the engine when timings are too noisy to resolve a few per cent.

    python bench/instructions.py            # needs valgrind (apt-get install -y valgrind)

Each contender runs in two child processes under callgrind, one doing the chain ``REPEATS``
times after a warm-up and one doing only the warm-up; the difference, divided by the number
of ops, is the count per op. Hash randomisation is fixed and OpenBLAS uses one thread, so
repeated runs agree to a few instructions.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import autograd_lite_chain, chain_ops, numpy_chain

OPS, REPEATS = 1000, 10
CONTENDERS = {"autograd_lite": autograd_lite_chain, "numpy by hand": numpy_chain}


def work(contender: str, repeats: int) -> None:
    """The child: a warm-up chain, then ``repeats`` more."""
    kinds, x0 = chain_ops(OPS), np.linspace(-1, 1, 4)
    for _ in range(1 + repeats):
        CONTENDERS[contender](x0, kinds)


def count(contender: str, repeats: int) -> int:
    """Instructions executed by a child doing ``repeats`` chains after the warm-up."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out",
             sys.executable, __file__, "--work", contender, str(repeats)],
            env=env, capture_output=True, text=True, check=True)
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no count:\n{result.stderr[-2000:]}")
    return int(match.group(1))


def main() -> int:
    if sys.argv[1:2] == ["--work"]:
        work(sys.argv[2], int(sys.argv[3]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    per_op = {}
    for contender in CONTENDERS:
        per_op[contender] = (count(contender, REPEATS) - count(contender, 0)) / (REPEATS * OPS)
        print(f"{contender}: {per_op[contender]:,.0f} instructions per op (fwd+bwd)", flush=True)
    print(f"ratio: {per_op['autograd_lite'] / per_op['numpy by hand']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
