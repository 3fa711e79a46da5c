"""Stress cases for the verifier's verdicts: a right/wrong pair for each hazard of issue 16.

Each case is a Derivation and what its formula is: ``right`` (every check must come out not
failed: PASS, or KINK / UNRELIABLE where the numbers call for it) or ``wrong`` (some check must
FAIL, or the derivation must be refused with an error). Every right formula is a closed form
derived by hand; every wrong one is a right one with a stated mistake.

``python tests/test_verdicts_stress.py`` prints the false alarms and misses of the current code.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.verify import Derivation, verify

CASES: list[tuple[str, str, Callable[[], Derivation]]] = []


def case(name: str, expect: str) -> Callable[[Callable[[], Derivation]], Callable[[], Derivation]]:
    def register(factory: Callable[[], Derivation]) -> Callable[[], Derivation]:
        CASES.append((name, expect, factory))
        return factory
    return register


def pair(name: str, right: Callable[..., object], wrong: Callable[..., object], **kwargs) -> None:
    """Register a right and a wrong Derivation differing only in the formula for ``target``."""
    target = kwargs.pop("target")
    for expect, formula in (("right", right), ("wrong", wrong)):
        CASES.append((f"{name} [{expect}]", expect,
                      lambda formula=formula: Derivation(name=name, gradients={target: formula},
                                                         **kwargs)))


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


rng = np.random.default_rng(16)

# -- offsets far from 0 where the function varies on a scale of 1 -------------------------------
x_far = 1000 + 0.5 * rng.standard_normal(5)
pair("tanh(x − 1000) at x ≈ 1000", target="x", inputs={"x": x_far},
     loss=lambda x: al.tanh(x - 1000.0).sum(),
     right=lambda x: 1 - np.tanh(x - 1000) ** 2,
     wrong=lambda x: (1 - np.tanh(x - 1000) ** 2) * 1.001)

raw = 2020 + rng.standard_normal(8)
weights = rng.standard_normal(8)


def batchnorm_loss(x, w):
    mu = x.mean()
    centred = x - mu
    sigma = al.sqrt((centred * centred).mean() + 1e-5)
    return (w * centred / sigma).sum()


def batchnorm_grad(x, w):
    """x̂ = (x − μ)/σ: ∂J/∂x = (w − mean(w) − x̂·mean(w x̂)) / σ."""
    sigma = np.sqrt(((x - x.mean()) ** 2).mean() + 1e-5)
    xhat = (x - x.mean()) / sigma
    return (w - w.mean() - xhat * (w * xhat).mean()) / sigma


pair("batch norm of a raw feature ≈ 2020", target="x", inputs={"x": raw, "w": weights},
     loss=batchnorm_loss, right=batchnorm_grad,
     wrong=lambda x, w: batchnorm_grad(x, w) * len(x) / (len(x) - 1))  # 1/(N−1) vs 1/N

logp = -300 + rng.standard_normal(6)
pair("log-sum-exp of log-probabilities ≈ −300", target="z", inputs={"z": logp},
     loss=lambda z: al.logsumexp(z, axis=0) * 1.0,
     right=lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum(),
     wrong=lambda z: np.exp(z - z.max()) / np.exp(z - z.max()).sum() * (1 + 1e-3))

probs = 1e-3 * (1 + 0.2 * rng.random(6))
pair("entropy at probabilities ≈ 1e-3", target="p", inputs={"p": probs},
     loss=lambda p: -(p * al.log(p)).sum(),
     right=lambda p: -(np.log(p) + 1), wrong=lambda p: -np.log(p))

tiny_probs = 1e-8 * (1 + 0.2 * rng.random(4))
pair("entropy at probabilities ≈ 1e-8", target="p", inputs={"p": tiny_probs},
     loss=lambda p: -(p * al.log(p)).sum(),
     right=lambda p: -(np.log(p) + 1), wrong=lambda p: -(np.log(p) + 1.01))

# -- scale: gradients of magnitude 1e-13 and 1e13, losses ≈ 1e6 ---------------------------------
xs = rng.standard_normal(5)
for scale in (1e-13, 1e13):
    pair(f"{scale:g}·Σ sin x", target="x", inputs={"x": xs},
         loss=lambda x, scale=scale: al.tanh(x).sum() * scale,
         right=lambda x, scale=scale: scale * (1 - np.tanh(x) ** 2),
         wrong=lambda x, scale=scale: 2 * scale * (1 - np.tanh(x) ** 2))
pair("a loss ≈ 1e6", target="x", inputs={"x": 14 + 0.1 * rng.standard_normal(4)},
     loss=lambda x: al.exp(x).sum(), right=lambda x: np.exp(x),
     wrong=lambda x: np.exp(x) * (1 + 1e-4))

# -- one wrong element small next to a large right one -----------------------------------------
coeffs = np.array([1e13, 1.0, 1.0])
pair("a small element next to a large one", target="x",
     inputs={"x": np.array([0.7, -0.4, 1.3]), "c": coeffs},
     loss=lambda x, c: (c * x * x).sum(),
     right=lambda x, c: 2 * c * x, wrong=lambda x, c: 2 * c * x * np.array([1, 1, 2]))

# -- precision: float16 / float32 / float64 mixes, unused low-precision inputs -------------------
x64 = rng.standard_normal(4)
pair("float64 x with an unused float16 input", target="x",
     inputs={"x": x64, "unused": np.ones(3, np.float16)},
     loss=lambda x, unused: (x * x).sum(), right=lambda x: 2 * x, wrong=lambda x: 4 * x)
pair("float16 input used", target="x", inputs={"x": x64.astype(np.float16)},
     loss=lambda x: (x * x).sum(), right=lambda x: 2 * x.astype(np.float64),
     wrong=lambda x: 3 * x.astype(np.float64))
pair("float64 x with an unused float32 input", target="x",
     inputs={"x": x64, "unused": np.ones(3, np.float32)},
     loss=lambda x, unused: al.tanh(x).sum(), right=lambda x: 1 - np.tanh(x) ** 2,
     wrong=lambda x: (1 - np.tanh(x) ** 2) * (1 + 1e-4))
pair("a float32 derivation", target="W",
     inputs={"W": rng.standard_normal((3, 2)).astype(np.float32),
             "x": rng.standard_normal((4, 3)).astype(np.float32)},
     loss=lambda W, x: al.tanh(x @ W).sum(),
     right=lambda W, x: x.T.astype(np.float64) @ (1 - np.tanh(x.astype(np.float64) @ W) ** 2),
     wrong=lambda W, x: x.T.astype(np.float64) @ (1 - np.tanh(x.astype(np.float64) @ W) ** 2)
     * 1.001)

# -- kinks and ties ----------------------------------------------------------------------------
X_int = np.array([[1.0, 2.0], [-1.0, 3.0], [2.0, -2.0]])
W_int = np.array([[1.0, -1.0, 2.0], [0.5, 1.0, -1.0]])
b_zero = -(X_int @ W_int)[0]  # the first example's pre-activations are exactly 0
v_out = np.array([1.0, -2.0, 0.5])


def relu_net(X, W, b, v):
    return (al.relu(X @ W + b) @ v).sum()


pair("ReLU net with pre-activations exactly 0", target="W",
     inputs={"X": X_int, "W": W_int, "b": b_zero, "v": v_out}, loss=relu_net,
     right=lambda X, W, b, v: X.T @ (((X @ W + b) > 0) * v),
     wrong=lambda X, W, b, v: X.T @ (((X @ W + b) > 0) * v) * 1.5)
pair("|x| at 0", target="x", inputs={"x": np.array([0.0, 1.5, -2.0])},
     loss=lambda x: al.abs(x).sum(), right=lambda x: np.sign(x),
     wrong=lambda x: np.sign(x) + np.array([0.0, 0.0, 1.0]))
pair("max with a tie", target="x", inputs={"x": np.array([1.0, 3.0, 3.0, -2.0])},
     loss=lambda x: al.max(x), right=lambda x: np.eye(4)[int(np.argmax(x))],
     wrong=lambda x: np.eye(4)[0])

# -- partial sign flips ------------------------------------------------------------------------
zs = rng.standard_normal(6)
pair("sign flipped on two elements", target="z", inputs={"z": zs},
     loss=lambda z: al.sigmoid(z).sum(),
     right=lambda z: sigmoid(z) * (1 - sigmoid(z)),
     wrong=lambda z: sigmoid(z) * (1 - sigmoid(z)) * np.array([1, -1, 1, 1, -1, 1]))

# -- a loss that changes one of its inputs in place --------------------------------------------


def mutating_loss(x, s):
    s.data += 1.0  # changes the array it was handed
    return (s * x * x).sum()


pair("a loss that changes an input in place", target="x",
     inputs={"x": np.array([0.5, -1.0]), "s": np.array([2.0, 3.0])}, loss=mutating_loss,
     right=lambda x, s: 2 * (s + 1) * x, wrong=lambda x, s: 2 * s * x)


# -- a formula with an imaginary part ----------------------------------------------------------
@case("a complex formula", "wrong")
def complex_formula() -> Derivation:
    return Derivation(name="complex", inputs={"x": np.array([1.0, 2.0])},
                      loss=lambda x: (x * x).sum(), gradients={"x": lambda x: 2 * x + 1e-3j})


# -- gradcheck: the same hazards for the tape alone -------------------------------------------
wrong_square = al.register_op("stress_wrong_square", forward=lambda x: x * x,
                              vjp=lambda g, out, x: (3 * x * g,))  # 1.5 × 2x
tiny_wrong = al.register_op("stress_tiny_wrong", forward=lambda x: 1e-13 * x * x,
                            vjp=lambda g, out, x: (4e-13 * x * g,))  # 2 × 2e-13·x
x4 = rng.standard_normal(4)
GRADCHECK_CASES: list[tuple[str, str, Callable[[], al.GradcheckReport]]] = [
    ("1.5× VJP beside an unused float16 input", "wrong",
     lambda: al.gradcheck(lambda a, b: wrong_square(a).sum() + b.sum(), x4,
                          np.ones(2, np.float16))),
    ("2× VJP on a loss of size 1e-13", "wrong",
     lambda: al.gradcheck(lambda a: tiny_wrong(a).sum(), x4)),
    ("1.5× VJP in float32", "wrong",
     lambda: al.gradcheck(lambda a: wrong_square(a).sum(), x4.astype(np.float32))),
    ("tanh(x − 1000) at x ≈ 1000", "right",
     lambda: al.gradcheck(lambda a: al.tanh(a - 1000.0).sum(), 1000 + x4)),
    ("entropy at 1e-3", "right",
     lambda: al.gradcheck(lambda p: -(p * al.log(p)).sum(), 1e-3 * (1 + 0.1 * np.abs(x4)))),
    ("relu at 0", "right", lambda: al.gradcheck(lambda a: al.relu(a).sum(), np.array([0.0, 1.0]))),
    ("a loss of size 1e13", "right", lambda: al.gradcheck(lambda a: al.tanh(a).sum() * 1e13, x4)),
    ("a loss that changes an input in place", "right",
     lambda: al.gradcheck(mutating_loss, np.array([0.5, -1.0]), np.array([2.0, 3.0]))),
]


def gradcheck_verdict(run: Callable[[], al.GradcheckReport]) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", al.GradcheckWarning)
        return "right" if run().passed else "wrong"


@pytest.mark.parametrize(("name", "expect", "run"), GRADCHECK_CASES,
                         ids=[c[0] for c in GRADCHECK_CASES])
def test_gradcheck_verdict(name: str, expect: str, run: Callable[[], al.GradcheckReport]) -> None:
    assert gradcheck_verdict(run) == expect


def verdict(factory: Callable[[], Derivation]) -> str:
    """'wrong' when some check fails or the derivation is refused, else 'right'."""
    report = verify(factory())
    if report.error is not None or any(not c.passed for c in report.checks):
        return "wrong"
    return "right"


@pytest.mark.parametrize(("name", "expect", "factory"), CASES, ids=[c[0] for c in CASES])
def test_verdict(name: str, expect: str, factory: Callable[[], Derivation]) -> None:
    report = verify(factory())
    assert verdict(factory) == expect, (report.error, [(c.target, c.outcome, c.diagnosis)
                                                       for c in report.checks])


if __name__ == "__main__":
    false_alarms = [n for n, e, f in CASES if e == "right" and verdict(f) != e]
    misses = [n for n, e, f in CASES if e == "wrong" and verdict(f) != e]
    false_alarms += [n for n, e, f in GRADCHECK_CASES if e == "right" and gradcheck_verdict(f) != e]
    misses += [n for n, e, f in GRADCHECK_CASES if e == "wrong" and gradcheck_verdict(f) != e]
    print(f"{len(CASES)} verify + {len(GRADCHECK_CASES)} gradcheck cases: {len(false_alarms)} "
          f"false alarms, {len(misses)} misses")
    for n in false_alarms:
        print("  false alarm:", n)
    for n in misses:
        print("  miss:", n)
