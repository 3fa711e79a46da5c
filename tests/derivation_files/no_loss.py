import numpy as np

from autograd_lite.verify import Derivation

NO_LOSS = Derivation(name="no loss", inputs={"x": np.ones(3)}, gradients={"x": lambda x: x})
