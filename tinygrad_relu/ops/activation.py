"""PLACEHOLDER until cysrc/activations.pyx lands: numpy relu only."""
import numpy as np
from ..function import Function


class ReLU(Function):
    def forward(self, x):
        self.y = np.maximum(x, 0)
        return self.y

    def backward(self, g):
        return g * (self.y > 0)


def relu(x):
    return ReLU.apply(x)
