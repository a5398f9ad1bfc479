"""Datasets: small synthetic sets generated on the spot, plus MNIST and Fashion-MNIST loaders.

Every loader returns ``(x_train, y_train), (x_test, y_test)`` as Keras' ``load_data`` does.
The generators need no download and are deterministic: the same ``seed`` gives the same
arrays, bit for bit. Points are float32 with shape (n, 2); labels are int64 class indices.

    >>> from tinygrad_relu import datasets
    >>> (x, y), (x_test, y_test) = datasets.spirals(n_samples=300, arms=3, seed=0)
    >>> x.shape, sorted(set(y.tolist()))
    ((225, 2), [0, 1, 2])
"""
import numpy as np

from . import fashion_mnist, mnist  # noqa: F401  (Keras' datasets.mnist.load_data())

__all__ = ["spirals", "moons", "circles", "xor", "blobs", "load", "GENERATORS", "mnist", "fashion_mnist"]


def _check(name, n_samples, test_fraction, classes):
    if not isinstance(n_samples, (int, np.integer)) or isinstance(n_samples, bool):
        raise TypeError(f"datasets.{name}: n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < 2 * classes:
        raise ValueError(f"datasets.{name}: n_samples={n_samples} is too small for {classes} classes "
                         f"(need at least {2 * classes})")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"datasets.{name}: test_fraction must be in (0, 1), got {test_fraction}")


def _per_class(n_samples, classes):
    """Split n_samples into `classes` counts that differ by at most one."""
    counts = np.full(classes, n_samples // classes)
    counts[: n_samples % classes] += 1
    return counts


def _shuffle_split(x, y, test_fraction, rng):
    """Shuffle once, then cut the last `test_fraction` off as the test set."""
    order = rng.permutation(len(x))
    x, y = x[order].astype(np.float32), y[order].astype(np.int64)
    n_test = max(1, int(round(len(x) * test_fraction)))
    cut = len(x) - n_test
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def spirals(n_samples=600, arms=3, noise=0.2, turns=0.75, test_fraction=0.25, seed=0):
    """`arms` interleaved spiral arms around the origin, one class per arm (CS231n's classic).

    Each arm winds `turns` times out to radius 1; `noise` is the standard deviation of the
    angle jitter in radians. No straight line (nor any linear model) separates the arms.
    """
    _check("spirals", n_samples, test_fraction, arms)
    if arms < 2:
        raise ValueError(f"datasets.spirals: arms must be at least 2, got {arms}")
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for arm, count in enumerate(_per_class(n_samples, arms)):
        radius = np.linspace(0.05, 1.0, count)
        angle = 2 * np.pi * (arm / arms + turns * radius) + rng.normal(0.0, noise, count)
        xs.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        ys.append(np.full(count, arm))
    return _shuffle_split(np.concatenate(xs), np.concatenate(ys), test_fraction, rng)


def moons(n_samples=600, noise=0.1, test_fraction=0.25, seed=0):
    """Two interleaving half circles (scikit-learn's make_moons), classes 0 and 1."""
    _check("moons", n_samples, test_fraction, 2)
    rng = np.random.default_rng(seed)
    n_upper, n_lower = _per_class(n_samples, 2)
    t_upper = np.linspace(0, np.pi, n_upper)
    t_lower = np.linspace(0, np.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    x = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n_samples, 2))
    x = x - np.array([0.5, 0.25])  # centre the pair on the origin
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _shuffle_split(x, y, test_fraction, rng)


def circles(n_samples=600, noise=0.05, factor=0.5, test_fraction=0.25, seed=0):
    """A small circle (class 1, radius `factor`) inside a unit circle (class 0)."""
    _check("circles", n_samples, test_fraction, 2)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"datasets.circles: factor must be in (0, 1), got {factor}")
    rng = np.random.default_rng(seed)
    n_outer, n_inner = _per_class(n_samples, 2)
    t_outer = rng.uniform(0, 2 * np.pi, n_outer)
    t_inner = rng.uniform(0, 2 * np.pi, n_inner)
    outer = np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1)
    inner = factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1)
    x = np.concatenate([outer, inner]) + rng.normal(0.0, noise, (n_samples, 2))
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return _shuffle_split(x, y, test_fraction, rng)


def xor(n_samples=600, noise=0.0, margin=0.05, test_fraction=0.25, seed=0):
    """Points in the square [-1, 1]^2 labelled 1 where x0 and x1 have the same sign.

    Points closer than `margin` to either axis are pushed out, so the four quadrants are
    cleanly apart before `noise` (Gaussian, added afterwards) blurs them.
    """
    _check("xor", n_samples, test_fraction, 2)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n_samples, 2))
    x = np.sign(x) * (margin + (1.0 - margin) * np.abs(x))
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)
    x = x + rng.normal(0.0, noise, x.shape) if noise else x
    return _shuffle_split(x, y, test_fraction, rng)


def blobs(n_samples=600, centers=3, n_features=2, cluster_std=0.3, test_fraction=0.25, seed=0):
    """Gaussian blobs, one class per centre; the centres are drawn from the seed too.

    `centers` is a count or an array of shape (classes, n_features).
    """
    rng = np.random.default_rng(seed)
    if np.ndim(centers) == 0:
        classes = int(centers)
        if classes < 1:
            raise ValueError(f"datasets.blobs: centers must be at least 1, got {centers}")
        centre_points = rng.uniform(-1.0, 1.0, (classes, n_features))
    else:
        centre_points = np.asarray(centers, dtype=np.float64)
        if centre_points.ndim != 2:
            raise ValueError(f"datasets.blobs: centers must be a count or a 2-D array, got shape "
                             f"{centre_points.shape}")
        classes, n_features = centre_points.shape
    _check("blobs", n_samples, test_fraction, classes)
    counts = _per_class(n_samples, classes)
    x = np.concatenate([c + rng.normal(0.0, cluster_std, (k, n_features)) for c, k in zip(centre_points, counts)])
    y = np.repeat(np.arange(classes), counts)
    return _shuffle_split(x, y, test_fraction, rng)


GENERATORS = {"spirals": spirals, "moons": moons, "circles": circles, "xor": xor, "blobs": blobs}


def load(name, **kwargs):
    """Any dataset by name: a generator above (kwargs passed on), or 'mnist' / 'fashion_mnist'."""
    if name in GENERATORS:
        return GENERATORS[name](**kwargs)
    if name in ("mnist", "fashion_mnist"):
        return (mnist if name == "mnist" else fashion_mnist).load_data(**kwargs)
    known = ", ".join(list(GENERATORS) + ["mnist", "fashion_mnist"])
    raise ValueError(f"datasets.load: unknown dataset {name!r}; known: {known}")
