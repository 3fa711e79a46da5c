"""Page faults per training step of the mid-size net, for autograd_lite and NumPy by hand, under
glibc's default allocator, in four orders: each contender alone, then in alternation with
either one first. Each order runs in a fresh process.

    python bench/faults.py

It shows that the faults are a property of the order the steps run in, not of either
contender: alone, both fault on every step; in alternation, the second of each pair pays.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import SIZES, autograd_lite_net, net_data, numpy_net_step

ORDERS = {"autograd_lite alone, then NumPy alone": "A" * 6 + "N" * 6,
          "NumPy alone, then autograd_lite alone": "N" * 6 + "A" * 6,
          "alternating, autograd_lite first": "AN" * 6,
          "alternating, NumPy first": "NA" * 6}


def run_order(order: str) -> str:
    """The child: the steps in ``order``, each labelled with its page faults."""
    data = net_data(*SIZES["mid"])
    steps = {"A": autograd_lite_net(*data), "N": numpy_net_step(*data)}
    labels = []
    for key in order:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        steps[key]()
        labels.append(f"{key}{resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before}")
    return " ".join(labels)


def main() -> int:
    if sys.argv[1:2] == ["--order"]:
        print(run_order(sys.argv[2]))
        return 0
    print("page faults per step of the mid net (A: autograd_lite, N: NumPy by hand)")
    for title, order in ORDERS.items():
        result = subprocess.run([sys.executable, __file__, "--order", order], check=True,
                                capture_output=True, text=True)
        print(f"{title}:\n  {result.stdout.strip()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
