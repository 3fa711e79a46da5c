import numpy as np

from autograd_lite.verify import Derivation

WRONG_SHAPES = Derivation(
    name="inputs that do not fit the loss",
    inputs={"x": np.ones((2, 3)), "W": np.ones((4, 5))},
    loss=lambda x, W: (x @ W).sum(),
    gradients={"W": lambda x, W: W},
)
