"""al.special (autograd_lite/special.py): each function's values against scipy.special, its
gradient against central differences (orders 1 and 2, float32 and float64), its JVP rule, and
derivatives in closed form where they are classical."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special as sc
from gradient_checks import assert_second_order_matches_fd
from helpers import assert_jvp_matches_fd, assert_matches_fd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import autograd_lite as al

DOMAINS = {
    "erf": lambda r, s: r.uniform(-2.5, 2.5, s),
    "erfc": lambda r, s: r.uniform(-2.5, 2.5, s),
    "erfinv": lambda r, s: r.uniform(-0.9, 0.9, s),
    "gammaln": lambda r, s: r.uniform(0.3, 6, s),
    "digamma": lambda r, s: r.uniform(0.3, 6, s),
    "expit": lambda r, s: r.uniform(-5, 5, s),
    "logit": lambda r, s: r.uniform(0.05, 0.95, s),
    "softplus": lambda r, s: r.uniform(-5, 5, s),
    "log_sigmoid": lambda r, s: r.uniform(-5, 5, s),
}
SCIPY = {"log_sigmoid": sc.log_expit, "softplus": lambda x: np.logaddexp(0.0, x)}


def fn(name: str):
    return getattr(al.special, name)


def test_every_special_op_has_cases() -> None:
    names = set(al.list_ops("special functions"))
    assert names == {fn(n).name for n in DOMAINS} - {"sigmoid"} | {"polygamma"}, names
    assert al.special.expit is al.sigmoid and al.special.log_expit is al.special.log_sigmoid
    assert al.special.psi is al.special.digamma


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(), (5,), (3, 4)], ids=str)
@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_values_and_first_order(name: str, shape: tuple, dtype: type) -> None:
    x = DOMAINS[name](np.random.default_rng(len(name)), shape).astype(dtype)
    out = fn(name)(al.Tensor(x))
    assert out.dtype == dtype, out.dtype
    reference = SCIPY.get(name, getattr(sc, name, None))
    np.testing.assert_allclose(out.data, reference(np.float64(x) if not shape else
                                                   x.astype(np.float64)),
                               rtol=1e-12 if dtype == np.float64 else 1e-5)
    assert_matches_fd(fn(name), [x])


@pytest.mark.parametrize("name", sorted(DOMAINS))
def test_second_order_and_jvp(name: str) -> None:
    x = DOMAINS[name](np.random.default_rng(2), (2, 3))
    assert_second_order_matches_fd(fn(name), [x])
    if name != "expit":  # (the built-in sigmoid: its JVP rule is forward mode's, in ops.py)
        assert_jvp_matches_fd(fn(name), [x])


@pytest.mark.parametrize("n", [0, 1, 2])
def test_polygamma_orders(n: int) -> None:
    x = np.random.default_rng(n).uniform(0.5, 4, (3,))
    np.testing.assert_allclose(al.special.polygamma(n, al.Tensor(x)).data, sc.polygamma(n, x),
                               rtol=1e-12)
    assert_matches_fd(lambda t: al.special.polygamma(n, t), [x])
    assert_second_order_matches_fd(lambda t: al.special.polygamma(n, t), [x])
    assert_jvp_matches_fd(al.special.polygamma, [np.array(n), x])


def test_polygamma_refuses_a_bad_order() -> None:
    with pytest.raises(al.InputValueError, match="order"):
        al.special.polygamma(1.5, al.Tensor([1.0]))
    with pytest.raises(al.InputValueError, match="order"):
        al.special.polygamma(-1, al.Tensor([1.0]))


def test_closed_form_derivatives() -> None:
    """erf' = 2/√π e^(−x²); (erfinv)'(erf y) = 1/erf'(y); gammaln' = ψ; ψ'(1) = π²/6;
    logit' = 1/(x(1 − x)); softplus' = σ; (log σ)' = σ(−x)."""
    x = al.Tensor(np.array([-1.3, 0.2, 0.9]), requires_grad=True)
    al.special.erf(x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 / math.sqrt(math.pi) * np.exp(-x.data ** 2), rtol=1e-14)
    y = np.array([-0.4, 0.3, 1.1])
    z = al.Tensor(sc.erf(y), requires_grad=True)
    al.special.erfinv(z).sum().backward()
    np.testing.assert_allclose(z.grad, 1 / (2 / math.sqrt(math.pi) * np.exp(-y ** 2)), rtol=1e-12)
    one = al.Tensor(1.0, requires_grad=True)
    (g,) = al.grad(al.special.gammaln(one), one, create_graph=True)
    np.testing.assert_allclose(g.data, -np.euler_gamma, rtol=1e-14)  # ψ(1) = −γ
    (h,) = al.grad(g, one)
    np.testing.assert_allclose(h, math.pi ** 2 / 6, rtol=1e-13)  # ψ'(1) = π²/6
    p = al.Tensor(np.array([0.2, 0.5]), requires_grad=True)
    al.special.logit(p).sum().backward()
    np.testing.assert_allclose(p.grad, 1 / (p.data * (1 - p.data)), rtol=1e-14)
    s = al.Tensor(np.array([-2.0, 3.0]), requires_grad=True)
    (al.special.softplus(s) + al.special.log_sigmoid(s)).sum().backward()
    sig = 1 / (1 + np.exp(-s.data))
    np.testing.assert_allclose(s.grad, sig + (1 - sig), rtol=1e-14)


def test_tails_stay_finite() -> None:
    x = al.Tensor(np.array([-800.0, -40.0, 40.0, 800.0]), requires_grad=True)
    out = al.special.log_sigmoid(x) + al.special.softplus(x)  # = x exactly
    np.testing.assert_allclose(out.data, x.data, rtol=1e-15)
    out.sum().backward()
    assert np.all(np.isfinite(x.grad))
    np.testing.assert_allclose(al.special.log_sigmoid(al.Tensor(-800.0)).item(), -800.0)
    np.testing.assert_allclose(al.special.softplus(al.Tensor(800.0)).item(), 800.0)


def test_scipy_ufuncs_dispatch_to_al_special() -> None:
    x0 = np.array([0.3, 1.2, 2.5])
    x = al.Tensor(x0, requires_grad=True)
    out = sc.gammaln(x) + sc.erf(x) + sc.log_expit(x) + sc.digamma(x) + sc.logit(x / 3.0)
    assert isinstance(out, al.Tensor) and out.node.op.name == "add"
    out.sum().backward()
    expected = (sc.digamma(x0) + 2 / math.sqrt(math.pi) * np.exp(-x0 ** 2) + sc.expit(-x0)
                + sc.polygamma(1, x0) + 1 / (x0 * (1 - x0 / 3)))
    np.testing.assert_allclose(x.grad, expected, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(DOMAINS)),
       shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=3), seed=st.integers(0, 2**16))
def test_any_shape(name: str, shape: tuple, seed: int) -> None:
    assert_matches_fd(fn(name), [DOMAINS[name](np.random.default_rng(seed), shape)], seed=seed)
