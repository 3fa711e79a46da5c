import numpy as np

import autograd_lite as al
from autograd_lite.verify import Derivation

NONSCALAR = Derivation(
    name="a loss that is not scalar",
    inputs={"x": np.ones(3)},
    loss=lambda x: al.exp(x),
    gradients={"x": lambda x: np.exp(x)},
)
