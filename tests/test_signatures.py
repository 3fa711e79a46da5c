"""Ops take NumPy's arguments: inputs by position, settings by keyword or after the inputs by
position, and nothing else (every refusal names the op and shows its signature)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import autograd_lite as al
from autograd_lite.errors import SignatureError


def test_settings_by_position_mean_the_same_as_by_keyword() -> None:
    x = np.random.default_rng(0).standard_normal((2, 3))
    for axis in (0, 1):
        by_position = al.sum(al.Tensor(x), axis, True).data
        by_keyword = al.sum(al.Tensor(x), axis=axis, keepdims=True).data
        np.testing.assert_array_equal(by_position, np.sum(x, axis, keepdims=True))
        np.testing.assert_array_equal(by_keyword, by_position)


def test_a_positional_setting_is_differentiated_like_a_keyword_one() -> None:
    x = al.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (al.mean(x, 1) ** 2).sum().backward()
    rows = np.arange(6.0).reshape(2, 3).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(x.grad, np.broadcast_to(2 * rows / 3, (2, 3)))


def test_inputs_may_be_named() -> None:
    assert al.sub(y=al.Tensor(1.0), x=al.Tensor(3.0)).data == 2.0


@pytest.mark.parametrize(("call", "words"), [
    (lambda x: al.exp(x, x), "positional"),
    (lambda x: al.exp(x, out=x), "out="),
    (lambda x: al.exp(x, dtype=np.float32), "dtype="),
    (lambda x: al.sum(x, where=True), "where="),
    (lambda x: al.sum(x, 0, axis=1), "two values for 'axis'"),
    (lambda x: al.sum(x, bogus=1), "unexpected argument 'bogus'"),
    (lambda x: al.add(x), "missing input(s) 'y'"),
    (lambda x: al.reshape(x), "missing setting(s) shape"),
    (lambda x: al.sub(x, x=x), "two values for input 'x'"),
])
def test_what_an_op_does_not_take_is_refused_with_its_signature(call, words) -> None:
    x = al.Tensor(np.ones(3), requires_grad=True)
    before = x.data.copy()
    with pytest.raises(SignatureError) as caught:
        call(x)
    message = str(caught.value)
    assert words in message and "Signature:" in message
    np.testing.assert_array_equal(x.data, before)  # nothing was written into an input


def test_the_signature_is_inspectable() -> None:
    assert str(inspect.signature(al.sum)) == "(x, axis=None, keepdims=False)"
    assert str(inspect.signature(al.exp)) == "(x, /)"


def test_a_user_op_gets_its_forward_signature() -> None:
    scale = al.register_op("scaled_by", lambda x, factor=2.0: x * factor,
                           lambda g, out, x, factor=2.0: (g * factor,))
    x = al.Tensor(np.ones(2), requires_grad=True)
    scale(x, 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])
    with pytest.raises(SignatureError, match="scaled_by"):
        scale(x, 3.0, 4.0)


def test_an_input_with_a_default_may_be_left_out_as_in_numpy() -> None:
    """clip's bounds are inputs (differentiable) with NumPy's default None: al.clip(x, 0) and
    np.clip(t, max=1) leave one out, and the gradient goes where the value is not clipped."""
    values = np.linspace(-2.0, 2.0, 5)
    x = al.Tensor(values, requires_grad=True)
    lower = al.clip(x, 0)
    np.testing.assert_array_equal(lower.data, np.maximum(values, 0))
    lower.sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 0, 0.5, 1, 1])  # at 0, the kink: g/2
    upper = np.clip(al.Tensor(values), max=1.0)
    np.testing.assert_array_equal(upper.data, np.minimum(values, 1.0))
