"""Properties of the verdicts on random programs (hypothesis).

* A formula taken from the tape itself is right by construction: it never FAILs (it may come
  out PASS, KINK or UNRELIABLE), whatever the loss's scale (1e-13 to 1e13) or the inputs'
  offset from 0 (up to 1000).
* A formula that differs from the right gradient at one element by more than
  PERTURBATION (relative to that element, or to 1e-3 of the target's largest element when it
  is smaller) always FAILs. docs/verdicts.md states this bound: it holds when float32 gets the
  element to within its own size, as it does for these programs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import autograd_lite as al
from autograd_lite.verify import Derivation, verify

PERTURBATION = 1e-6

INNER = {
    "tanh": al.tanh,
    "sigmoid": al.sigmoid,
    "square": lambda z: z * z,
    "softplus": lambda z: al.log(1.0 + al.exp(z)),
}
OUTER = {
    "weighted sum": lambda h, v: (h * v).sum(),
    "logsumexp": lambda h, v: al.logsumexp((h * v).reshape((-1,)), axis=0),
    "sum of squares": lambda h, v: (h * h * v).sum(),
    "log sigmoid": lambda h, v: al.log(al.sigmoid(h * v)).sum(),
}


@st.composite
def programs(draw: st.DrawFn) -> dict[str, Any]:
    """J = scale · outer(inner((x − offset) W + b) [+ a ReLU]) for random shapes and values."""
    n, m, rows = draw(st.integers(1, 4)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 16)))
    offset = draw(st.sampled_from([0.0, 0.0, 1000.0, -300.0]))
    return {
        "inputs": {"x": offset + rng.standard_normal((rows, n)),
                   "W": rng.standard_normal((n, m)), "b": rng.standard_normal(m),
                   "v": rng.standard_normal(m)},
        "offset": offset,
        "scale": 10.0 ** draw(st.sampled_from([-13, -6, 0, 6, 13])),
        "inner": draw(st.sampled_from(sorted(INNER))),
        "outer": draw(st.sampled_from(sorted(OUTER))),
        "relu": draw(st.booleans()),
    }


def loss_of(program: dict[str, Any]):
    inner, outer = INNER[program["inner"]], OUTER[program["outer"]]

    def loss(x, W, b, v):
        h = inner((x - program["offset"]) @ W + b)
        if program["relu"]:
            h = al.relu(h) + 0.1 * h
        return outer(h, v) * program["scale"]
    return loss


def tape_formula(program: dict[str, Any], target: str):
    """∂J/∂target from the tape, computed afresh on the arrays it is handed."""
    def formula(x, W, b, v):
        tensors = {k: al.Tensor(a, requires_grad=True) for k, a in
                   {"x": x, "W": W, "b": b, "v": v}.items()}
        loss_of(program)(**tensors).backward()
        return tensors[target].grad
    return formula


@settings(max_examples=40, deadline=None)
@given(programs())
def test_formulas_taken_from_the_tape_never_fail(program) -> None:
    report = verify(Derivation(
        name="from the tape", inputs=program["inputs"], loss=loss_of(program),
        gradients={t: tape_formula(program, t) for t in ("x", "W", "b")}))
    assert report.error is None, report.error
    assert all(c.outcome != "fail" for c in report.checks), \
        [(c.target, c.outcome, c.diagnosis, c.reason) for c in report.checks]


@settings(max_examples=40, deadline=None)
@given(programs(), st.sampled_from(["x", "W", "b"]), st.integers(0, 100),
       st.floats(PERTURBATION * 1.01, 1.0), st.sampled_from([1.0, -1.0]))
def test_a_formula_perturbed_beyond_the_bound_always_fails(program, target, element, size,
                                                           sign) -> None:
    program = {**program, "relu": False}  # smooth: no kink can excuse a changed element
    right = tape_formula(program, target)

    def perturbed(x, W, b, v):
        gradient = np.array(right(x, W, b, v), dtype=np.float64)
        j = element % gradient.size
        magnitude = max(abs(gradient.flat[j]), 1e-3 * float(np.abs(gradient).max()))
        gradient.flat[j] += sign * size * magnitude
        return gradient

    report = verify(Derivation(name="perturbed", inputs=program["inputs"],
                               loss=loss_of(program), gradients={target: perturbed}))
    (check,) = report.checks
    assert check.outcome == "fail", (check.outcome, check.reason, check.tape_vs_formula)
