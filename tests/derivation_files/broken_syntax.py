from autograd_lite.verify import Derivation

BROKEN = Derivation(name="broken", inputs={"x": [1.0]}, loss=lambda x: x.sum(),
