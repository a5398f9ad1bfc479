"""Bilinear resizing of channels_last images (N, H, W, C): UpSampling2D(interpolation="bilinear").

Bilinear interpolation is linear in the image, so it is two matrix products: y = A_h x A_w^T per image
and channel, A_h (H', H) and A_w (W', W) holding each output row's (column's) two weights. The
gradient is the transposed products, dx = A_h^T dy A_w.

The weights are those of ``keras.ops.image.resize(..., interpolation="bilinear", antialias=False)``
(TensorFlow's half-pixel centres, PyTorch's ``align_corners=False``): output cell j samples the input
at s = (j + 0.5) * n / n' - 0.5, clamped at 0, from cells floor(s) and floor(s) + 1 (the last one
repeated at the edge) with weights 1 - frac(s) and frac(s).
"""
import numpy as np

from ..tensor import Function


def bilinear_matrix(size, new_size, dtype=np.float64):
    """A (new_size, size) with y = A @ x the half-pixel bilinear resampling of x along one axis."""
    source = np.maximum((np.arange(new_size) + 0.5) * (size / new_size) - 0.5, 0.0)
    low = np.floor(source).astype(np.intp)
    high = np.minimum(low + 1, size - 1)
    frac = source - low
    matrix = np.zeros((new_size, size), dtype=np.float64)
    rows = np.arange(new_size)
    np.add.at(matrix, (rows, low), 1.0 - frac)
    np.add.at(matrix, (rows, high), frac)
    return matrix.astype(dtype)


class BilinearResize2D(Function):
    """y = A_h x A_w^T (each image and channel);  dx = A_h^T dy A_w"""

    def forward(self, x, size):
        n, h, w, c = x.shape
        new_h, new_w = size
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        self.rows, self.cols = bilinear_matrix(h, new_h, dtype), bilinear_matrix(w, new_w, dtype)
        self.x_shape = x.shape
        tall = np.matmul(self.rows, x.reshape(n, h, w * c)).reshape(n, new_h, w, c)  # along H
        return np.ascontiguousarray(np.matmul(self.cols, tall))                       # along W: (W', W) @ (W, C)

    def backward(self, grad):
        n, h, w, c = self.x_shape
        new_h = grad.shape[1]
        tall = np.matmul(self.cols.T, grad)                                           # (n, H', W, C)
        dx = np.matmul(self.rows.T, tall.reshape(n, new_h, w * c)).reshape(n, h, w, c)
        return dx.astype(self.parents[0].data.dtype, copy=False)
