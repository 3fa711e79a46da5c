import numpy as np

from autograd_lite.verify import Derivation

RIGHT = Derivation(
    name="d/dx Σ x² = 2x",
    inputs={"x": np.array([1.0, -2.0, 0.5])},
    loss=lambda x: (x * x).sum(),
    gradients={"x": lambda x: 2 * x},
)
