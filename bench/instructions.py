"""Instructions, counted by valgrind's callgrind, for two workloads of bench/run.py: an op of the
1000-op chain (forward + backward) and a training step of the tiny net, each for autograd_lite
and for NumPy by hand. A measure that does not drift with the machine, for comparing two
versions of the engine when timings are too noisy to resolve a few per cent.

    python bench/instructions.py               # needs valgrind (apt-get install -y valgrind)
    python bench/instructions.py --breakdown   # also where the difference goes, file by file

Each contender runs in two child processes under callgrind, one doing the workload ``REPEATS``
times after a warm-up and one doing only the warm-up; the difference, divided by the repeats
(and, for the chain, by its ops), is the count. Hash randomisation is fixed and OpenBLAS uses
one thread, so repeated runs agree to a few instructions.

``--breakdown`` also gives each count by where the instructions ran: CPython's source file
(``Python/ceval.c`` is the bytecode loop, ``Modules/gcmodule.c`` the cyclic garbage collector,
``Objects/obmalloc.c`` the small-object allocator, ...), or, outside the interpreter, the library
(NumPy's ``_multiarray_umath``, libc), with the largest differences between the contenders first.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
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


def count(name: str, contender: str, repeats: int, by_place: bool = False
          ) -> tuple[int, Counter[str]]:
    """Instructions executed by a child doing ``repeats`` after the warm-up, and (with
    ``by_place``) the same split by source file or library (see :func:`places`)."""
    env = {**os.environ, "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={scratch}/out",
             sys.executable, __file__, "--work", name, contender, str(repeats)],
            env=env, capture_output=True, text=True, check=True)
        split = places(f"{scratch}/out") if by_place else Counter()
    match = re.search(r"Collected : (\d+)", result.stderr)
    if match is None:
        raise RuntimeError(f"callgrind printed no count:\n{result.stderr[-2000:]}")
    return int(match.group(1)), split


# a line of callgrind_annotate: "1,234 (0.5%)  file:function [object]"
ANNOTATED = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(.+?):\S.*\[(.+)\]\s*$")


def places(out_file: str) -> Counter[str]:
    """Instructions by where they ran: the interpreter's by source file (the last two parts of
    its path, e.g. Python/ceval.c), the rest by library."""
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out_file],
                          capture_output=True, text=True, check=True).stdout
    split: Counter[str] = Counter()
    for line in text.splitlines():
        match = ANNOTATED.match(line)
        if match is None:
            continue
        instructions, source, library = match.groups()
        library = Path(library).name.split(".")[0]
        if library.startswith(("libpython", "python")) and source != "???":  # the interpreter
            where = "/".join(Path(os.path.normpath(source)).parts[-2:])
        else:
            where = library
        split[where] += int(instructions.replace(",", ""))
    return split


def show_breakdown(splits: dict[str, Counter[str]], unit: str, rows: int = 12) -> None:
    ours, theirs = splits[CONTENDERS[0]], splits[CONTENDERS[1]]
    print(f"  where the instructions per {unit} ran, largest differences first:")
    print(f"  {'autograd_lite':>14} {'numpy by hand':>14} {'difference':>11}  where")
    for where in sorted(ours.keys() | theirs.keys(),
                        key=lambda w: -abs(ours[w] - theirs[w]))[:rows]:
        print(f"  {ours[where]:14,.0f} {theirs[where]:14,.0f} "
              f"{ours[where] - theirs[where]:+11,.0f}  {where}")
    print()


def main() -> int:
    if sys.argv[1:2] == ["--work"]:
        work(sys.argv[2], sys.argv[3], int(sys.argv[4]))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt-get install -y valgrind)", file=sys.stderr)
        return 2
    by_place = "--breakdown" in sys.argv[1:]
    for name, (unit, per_repeat, repeats) in WORKLOADS.items():
        counts, splits = {}, {}
        for contender in CONTENDERS:
            (total, split), (base, split_base) = (count(name, contender, n, by_place)
                                                  for n in (repeats, 0))
            counts[contender] = (total - base) / (repeats * per_repeat)
            splits[contender] = Counter({where: (split[where] - split_base[where]) /
                                         (repeats * per_repeat) for where in split})
            print(f"{contender}: {counts[contender]:,.0f} instructions per {unit}", flush=True)
        print(f"ratio: {counts['autograd_lite'] / counts['numpy by hand']:.2f}\n", flush=True)
        if by_place:
            show_breakdown(splits, unit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
