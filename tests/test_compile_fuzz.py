"""al.compile on the fuzzer's random programs: the compiled value and gradients equal the eager
tape's bit for bit (the generated code calls the same NumPy functions in the same order), and a
compiled plain function equals the eager one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from test_fuzz import Program, programs

import autograd_lite as al


def _loss(program: Program):
    def loss(*leaves):
        return program.run(list(leaves))
    return loss


@settings(max_examples=50, deadline=None)
@given(programs())
def test_compiled_gradients_equal_the_tape_bitwise(program: Program) -> None:
    argnums = tuple(range(len(program.leaves)))
    eager = al.func.value_and_grad(_loss(program), argnums=argnums)
    compiled = al.compile(al.func.value_and_grad(_loss(program), argnums=argnums))
    with np.errstate(all="ignore"):
        value, grads = eager(*program.leaves)
        for _ in range(2):  # the tracing call, then a replay of the generated code
            c_value, c_grads = compiled(*program.leaves)
            assert np.array_equal(np.asarray(c_value), np.asarray(value)), compiled.source
            assert len(c_grads) == len(grads)
            for c, e in zip(c_grads, grads):
                assert c.shape == e.shape and c.dtype == e.dtype
                assert np.array_equal(c, e), compiled.source


@settings(max_examples=25, deadline=None)
@given(programs())
def test_compiled_replay_on_new_values_matches_eager(program: Program) -> None:
    """The program traced on one set of values, replayed on others (same shapes)."""
    argnums = tuple(range(len(program.leaves)))
    compiled = al.compile(al.func.value_and_grad(_loss(program), argnums=argnums))
    eager = al.func.value_and_grad(_loss(program), argnums=argnums)
    with np.errstate(all="ignore"):
        compiled(*program.leaves)
        moved = [leaf * 0.9 + 0.01 for leaf in program.leaves]
        value, grads = eager(*moved)
        c_value, c_grads = compiled(*moved)
    assert len(compiled.cache) == 1
    np.testing.assert_array_equal(np.asarray(c_value), np.asarray(value))
    for c, e in zip(c_grads, grads):
        np.testing.assert_array_equal(c, e)


@settings(max_examples=25, deadline=None)
@given(programs())
def test_compiled_forward_equals_eager(program: Program) -> None:
    compiled = al.compile(_loss(program))
    with np.errstate(all="ignore"):
        expected = np.asarray(_loss(program)(*program.leaves))
        got = compiled(*program.leaves)
    assert np.array_equal(np.asarray(got), expected)
