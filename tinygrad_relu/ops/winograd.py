"""3x3 convolutions by Winograd's minimal filtering, F(2x2, 3x3) and F(4x4, 3x3), and the rule
that picks them over im2col + GEMM.

    y = A^T [ (G g G^T) (.) (B^T d B) ] A     per m x m block of outputs (m = 2 or 4)

summed over input channels: the elementwise product becomes (m+2)^2 matrix products of
(tiles, cin) @ (cin, cout), 2.25x (m = 2) or 4x (m = 4) fewer multiply-adds than im2col's one
(N*oh*ow, 9*cin) @ (9*cin, cout) product. The data transforms are Cython
(cysrc/winograd.pyx); the filter transform U = kron(G, G) @ g (a (m+2)^2 x 9 matrix times
the kernel as (9, cin*cout)) is numpy's BLAS; the products are numpy's BLAS too, except in
float32 on the AVX2 and AVX-512 builds, where the fused kernels multiply in their own FMA
kernel (cysrc/winograd_gemm.h; _kernels.own_gemm says where). Backward is the adjoint of
each step:

    dM = A dy A^T,   dU[p] = V[p]^T dM[p],   dg = kron(G, G)^T dU,   dV[p] = dM[p] U[p]^T,
    dx = sum over tiles of B dV B^T

so the gradients are the convolution's own (exactly, up to rounding).

Rounding: the transforms' entries reach 8 (m = 4), so errors grow with m. Measured in float32
against a float64 reference, relative to sum |x| |w| over each output: m = 2 within ~2 eps,
m = 4 within ~30 eps (tests/test_conv.py checks 8 eps and 64 eps; docs/performance.md).
"""
import numpy as np

from .. import _blas
from .._kernels import threads as _threads
from .._kernels import winograd as _kernels

# The interpolation points 0, -1, 1, (m = 4: -2, 2,) infinity (Lavin & Gray 2016).
_G = {2: np.array([[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]]),
      4: np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                   [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])}
# (m+2)^2 x 9: U[xi*(m+2) + nu] = sum_{r,s} G[xi, r] G[nu, s] g[r, s]
_FILTER_TRANSFORM = {(m, np.dtype(dt)): np.kron(g, g).astype(dt) for m, g in _G.items()
                     for dt in (np.float32, np.float64)}

ALGORITHMS = ("im2col", "winograd2", "winograd4")
# numpy's CBLAS gemm (addresses), which the fused kernels call; None: the unfused path
GEMM = _blas.cblas_gemm()
MIN_CHANNELS = 16
# multiply-adds per product of the backward's data gradient when it groups small images: the size
# numpy's OpenBLAS runs fastest on this CPU (_blas.product_max)
PRODUCT_MAX = _blas.product_max()
# multiply-adds per product (and per group of small images) where the build's own kernel multiplies
# (_kernels.own_gemm: float32, channels in multiples of 16, an FMA build). No BLAS thread pool to
# stay clear of here. On (e)'s three layers (2 threads; forward, data gradient and kernel gradient
# timed apart, summed) 1e5, 2e5, 4e5, 8e5 gave 114, 105, 101, 109 ms; alternated over rounds
# later, blocks of 12 to 96 rows came out within the noise of each other.
OWN_PRODUCT_MAX = 400_000


def _product_sizes(dtype, cin, cout):
    """(gemm_max, block_max) for the fused kernels."""
    if _kernels.own_gemm(dtype, cin, cout):
        return OWN_PRODUCT_MAX, OWN_PRODUCT_MAX
    return _blas.CALLER_THREAD_MAX, PRODUCT_MAX


def applicable(kernel_size, strides, dilation, pads):
    """Winograd F(m x m, 3 x 3) covers 3x3 kernels with stride 1, dilation 1 and padding <= 2."""
    return kernel_size == (3, 3) and strides == (1, 1) and dilation == (1, 1) and max(pads) <= 2


def choose(kernel_size, strides, dilation, pads, out_size, cin, cout):
    """The algorithm for one convolution: "im2col" or "winograd4".

    From the per-layer measurements in docs/performance.md ("3x3 convolutions": forward +
    backward with ReLU, 1 thread, ten layer shapes): F(4x4, 3x3) was fastest wherever both
    channel counts were 16 or more (1.2x to 1.9x faster than im2col), F(2x2, 3x3) never clearly
    beat it (a tie on a 10x10 output, where m = 4's tiles cover 12x12), and with 8 input channels
    im2col won: its product is small there and the transforms, which move (m+2)^2/m^2 times the
    image's data, cost more than the multiply-adds they save. ``out_size`` is unused by the rule
    but part of its signature: a finer rule may need it.
    """
    if not applicable(kernel_size, strides, dilation, pads) or min(cin, cout) < MIN_CHANNELS:
        return "im2col"
    return "winograd4"


def tile_counts(n, out_size, m):
    th, tw = -(-out_size[0] // m), -(-out_size[1] // m)
    return th, tw, n * th * tw


def filter_transform(kernel, m):
    """U (a*a, cin, cout) = G g G^T for every channel pair of kernel (3, 3, cin, cout)."""
    _, _, cin, cout = kernel.shape
    return (_FILTER_TRANSFORM[m, kernel.dtype] @ kernel.reshape(9, cin * cout)).reshape(-1, cin, cout)


def filter_gradient(dU, m):
    """dg (3, 3, cin, cout) from dU (a*a, cin, cout): the adjoint of filter_transform."""
    cells, cin, cout = dU.shape
    return (_FILTER_TRANSFORM[m, dU.dtype].T @ dU.reshape(cells, cin * cout)).reshape(3, 3, cin, cout)


def forward(x, kernel, bias, m, pads, out_size, relu, workspace, parallel, keep_transformed):
    """y (N, oh, ow, cout) = conv(x, kernel) + bias, ReLU'd if ``relu``; returns (y, U, V).

    V (the transformed input) is returned when ``keep_transformed`` (the kernel's gradient needs
    it); U is always returned (the input's gradient needs it). With numpy's CBLAS at hand (GEMM)
    the transforms and products run fused, block by block (cysrc/winograd.pyx); else the
    transforms run over whole arrays and the products are numpy's batched matmul.
    """
    n, _, _, cin = x.shape
    cout = kernel.shape[3]
    cells = (m + 2) ** 2
    _, _, tiles = tile_counts(n, out_size, m)
    U = filter_transform(kernel, m)
    y = workspace.recycle("out", (n, *out_size, cout), x.dtype)
    V = workspace.take("V", (cells, tiles, cin), x.dtype) if keep_transformed or GEMM is None else None
    if GEMM is not None:
        _kernels.winograd_forward_fused(x, U, y, bias, V, m, pads[0], pads[1], relu, GEMM,
                                        _product_sizes(x.dtype, cin, cout)[0], _threads.get_num_threads(), parallel)
        return y, U, V
    _kernels.winograd_input(x, V, m, pads[0], pads[1], out_size[0], out_size[1], parallel)
    M = np.matmul(V, U, out=workspace.take("M", (cells, tiles, cout), x.dtype))
    _kernels.winograd_output(M, y, bias, m, relu, parallel)
    workspace.give("M", M)
    if not keep_transformed:
        workspace.give("V", V)
        V = None
    return y, U, V


def fuses_relu_grad():
    """Whether backward takes a ReLU's output and applies its derivative itself (the fused path)."""
    return GEMM is not None


def backward(dz, U, V, m, x_shape, pads, out_size, need_x, need_kernel, need_bias, workspace, parallel,
             relu_y=None):
    """(dx, dkernel, dbias), each None when not needed, from dz, the gradient at the output before
    the activation; or, with ``relu_y`` (the fused path only: see ``fuses_relu_grad``), dz is the
    gradient after a ReLU whose output was relu_y, and the fused kernel applies its derivative.

    V stays intact (a graph kept with retain_graph=True may run backward again); the caller
    gives it back to the workspace when the graph is released.
    """
    n, oh, ow, cout = dz.shape
    cin = x_shape[3]
    cells = (m + 2) ** 2
    _, _, tiles = tile_counts(n, out_size, m)
    dM = workspace.take("M", (cells, tiles, cout), dz.dtype)
    dx = workspace.recycle("dx", x_shape, dz.dtype) if need_x else None
    dkernel = dbias = None
    if GEMM is not None:
        dU = np.empty((cells, cin, cout), dz.dtype) if need_kernel else None
        gemm_max, block_max = _product_sizes(dz.dtype, cin, cout)
        _kernels.winograd_backward_fused(dz, U, V if need_kernel else None, dM, dx, dU, m, pads[0], pads[1], GEMM,
                                         gemm_max, _threads.get_num_threads(), parallel, relu_y, block_max)
    else:
        if relu_y is not None:
            raise ValueError("winograd.backward: relu_y needs the fused kernels (numpy's CBLAS was not found)")
        _kernels.winograd_output_grad(dz, dM, m, parallel)
        dU = np.matmul(V.transpose(0, 2, 1), dM) if need_kernel else None
        if need_x:
            dV = np.matmul(dM, U.transpose(0, 2, 1), out=workspace.take("dV", (cells, tiles, cin), dz.dtype))
            _kernels.winograd_input_grad(dV, dx, m, pads[0], pads[1], oh, ow, parallel)
            workspace.give("dV", dV)
    if need_kernel:
        dkernel = filter_gradient(dU, m)
    if need_bias:  # cell (1, 1) holds each tile's sum of dz (see winograd_output_grad): a GEMV
        # over the tiles, 16x (m = 4) fewer rows than over dz's pixels
        dbias = np.ones(tiles, dtype=dz.dtype) @ dM[m + 3]
    workspace.give("M", dM)
    return dx, dkernel, dbias
