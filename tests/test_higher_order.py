"""gradgradcheck and check_grads: right rules pass at every order and in both modes; each
planted wrong rule (a wrong JVP, a wrong VJP, a VJP or JVP that is right but records nothing, so
its own derivative is lost) is caught, by the check that should catch it."""

from __future__ import annotations

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.tensor import raw

rng = np.random.default_rng(11)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _vjp_right(g, out, x):  # differentiable: built from ops on whatever it is given
    return g * out * (1.0 - out)


def _vjp_on_raw_arrays(g, out, x):  # right values, but a constant to the tape
    s = raw(out)
    return g * (s * (1.0 - s))


def _jvp_right(t, out, x):
    return t * out * (1.0 - out)


def _jvp_wrong(t, out, x):  # σ' taken as σ(1 + σ): a wrong forward-mode rule
    return t * out * (1.0 + out)


def _jvp_on_raw_arrays(t, out, x):
    s = raw(out)
    return t * (s * (1.0 - s))


def _vjp_wrong(g, out, x):
    return g * out


OPS = {
    "right": al.register_op("sig_right", _sigmoid, (_vjp_right,), jvp=(_jvp_right,)),
    "wrong_jvp": al.register_op("sig_wrong_jvp", _sigmoid, (_vjp_right,), jvp=(_jvp_wrong,)),
    "wrong_vjp": al.register_op("sig_wrong_vjp", _sigmoid, (_vjp_wrong,), jvp=(_jvp_right,)),
    "raw_vjp": al.register_op("sig_raw_vjp", _sigmoid, (_vjp_on_raw_arrays,), jvp=(_jvp_right,)),
    "raw_jvp": al.register_op("sig_raw_jvp", _sigmoid, (_vjp_right,), jvp=(_jvp_on_raw_arrays,)),
}
X = rng.standard_normal(4)


def network(W, b, x=rng.standard_normal((3, 4)), y=np.array([0, 2, 1])):  # noqa: B008
    h = al.tanh(x @ W + b)
    return al.softmax_cross_entropy(h @ W.T, y) + al.sum(al.sigmoid(b) ** 2)


# ------------------------------------------------------------------------- right rules pass
@pytest.mark.parametrize("fast", [False, True])
def test_right_rules_pass_to_third_order(fast: bool) -> None:
    al.check_grads(lambda x: OPS["right"](x) * al.exp(x), (X,), order=3, fast=fast)
    W, b = rng.standard_normal((4, 4)) * 0.5, rng.standard_normal(4)
    al.check_grads(network, (W, b), order=2, fast=fast)
    assert al.gradgradcheck(network, W, b, fast_mode=fast).passed


def test_every_builtin_passes_second_order_checks() -> None:
    x, p = rng.standard_normal((3, 4)), rng.uniform(0.5, 2.0, (3, 4))
    cases = [
        (lambda x: x * x / (1.0 + x ** 2) - x, (x,)), (lambda p: al.log(p) * al.sqrt(p), (p,)),
        (lambda p: p ** 2.5 + 2.0 ** p, (p,)), (lambda x: al.sigmoid(x) * al.tanh(x), (x,)),
        (lambda x: al.logsumexp(x, axis=1) + al.mean(x, axis=0).sum(), (x,)),
        (lambda x: al.softmax(x) * al.log_softmax(x, axis=0), (x,)),
        (lambda x: al.exp(x).T.reshape(2, 6)[1:, ::2], (x,)),
        (lambda x: al.broadcast_to(x[0], shape=(2, 4)) * al.stack([x[1], x[2]]), (x,)),
        (lambda x: al.concatenate([x, x * x], axis=0).max(axis=0), (x,)),
        (lambda x: al.scatter_add(al.exp(x), index=np.array([0, 1, 0]), shape=(2, 4)), (x,)),
        (lambda x: (x.T @ x) @ x[0], (x,)),
        (lambda x, q: al.softmax_cross_entropy(x * x, q / q.sum(axis=1, keepdims=True)), (x, p)),
        (lambda p: al.abs(p - 3.0) * al.relu(p) - al.min(p, axis=1).sum(), (p,)),
        (lambda x: al.astype(x * x, dtype=np.float64), (x,)),
    ]
    for f, args in cases:
        al.check_grads(f, args, order=2, fast=True)
        assert al.gradgradcheck(lambda *xs, f=f: al.sum(f(*xs)), *args).passed


def test_float32_uses_float32_tolerances() -> None:
    x = X.astype(np.float32)
    al.check_grads(lambda x: al.tanh(x) * al.exp(x), (x,), order=2)
    with pytest.raises(al.DerivativeCheckError):
        al.check_grads(OPS["wrong_jvp"], (x,), order=1, modes=("fwd",))


# -------------------------------------------------------------------- planted wrong rules
@pytest.mark.parametrize("fast", [False, True])
def test_wrong_jvp_rule_is_caught_by_forward_mode(fast: bool) -> None:
    f = OPS["wrong_jvp"]
    al.check_grads(f, (X,), order=1, modes=("rev",), fast=fast)  # its VJP is right
    with pytest.raises(al.DerivativeCheckError, match="forward mode"):
        al.check_grads(f, (X,), order=1, modes=("fwd",), fast=fast)


@pytest.mark.parametrize("fast", [False, True])
def test_wrong_vjp_is_caught_by_reverse_mode(fast: bool) -> None:
    f = OPS["wrong_vjp"]
    al.check_grads(f, (X,), order=1, modes=("fwd",), fast=fast)
    with pytest.raises(al.DerivativeCheckError, match="reverse mode"):
        al.check_grads(f, (X,), order=1, modes=("rev",), fast=fast)


@pytest.mark.parametrize("fast", [False, True])
def test_right_but_not_differentiable_vjp_is_caught_at_second_order(fast: bool) -> None:
    f = OPS["raw_vjp"]
    loss = lambda x: al.sum(f(x))
    assert al.gradcheck(loss, X).passed  # first order: right
    al.check_grads(f, (X,), order=1, fast=fast)
    report = al.gradgradcheck(loss, X, fast_mode=fast)
    assert not report.passed
    with pytest.raises(al.DerivativeCheckError, match="the VJP of f"):
        al.check_grads(f, (X,), order=2, modes=("rev",), fast=fast)
    with pytest.raises(al.DerivativeCheckError, match="the VJP of f"):
        al.check_grads(f, (X,), order=2, modes=("fwd", "rev"), fast=fast)


@pytest.mark.parametrize("fast", [False, True])
def test_right_but_not_differentiable_jvp_is_caught_at_second_order(fast: bool) -> None:
    f = OPS["raw_jvp"]
    al.check_grads(f, (X,), order=1, fast=fast)
    with pytest.raises(al.DerivativeCheckError, match="the JVP of f"):
        al.check_grads(f, (X,), order=2, modes=("fwd",), fast=fast)


def test_the_failure_names_the_element_and_the_values() -> None:
    with pytest.raises(al.DerivativeCheckError) as caught:
        al.check_grads(OPS["wrong_jvp"], (X,), order=1, modes=("fwd",))
    message = str(caught.value)
    assert "argument leaf 0, element (0,)" in message and "finite differences" in message


def test_gradgradcheck_of_a_linear_function_passes() -> None:
    assert al.gradgradcheck(lambda x: al.sum(3.0 * x), X).passed


def test_containers_and_container_outputs() -> None:
    params = {"W": rng.standard_normal((2, 2)), "b": rng.standard_normal(2)}
    al.check_grads(lambda p: (al.tanh(p["W"] @ p["b"]), al.sum(p["b"] ** 3)), (params,),
                   order=2, fast=True)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(al.InputValueError, match="tuple of arguments"):
        al.check_grads(al.exp, X)
    with pytest.raises(al.InputValueError, match="modes"):
        al.check_grads(al.exp, (X,), modes=("sideways",))
    with pytest.raises(al.InputValueError, match="order"):
        al.check_grads(al.exp, (X,), order=0)
    with pytest.raises(al.InputValueError, match="floating-point"):
        al.check_grads(al.exp, (np.array([1, 2]),))
    with pytest.raises(al.InputValueError, match="no floating-point"):
        al.gradgradcheck(al.exp, np.array([1, 2]))
