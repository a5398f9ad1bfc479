"""Losses with Keras 3's names, defaults and formulas.

``loss(y_true, y_pred)`` takes the labels (numpy array, or anything array-like) and the
predictions (a Tensor) and returns a scalar Tensor: the per-sample losses averaged over the
batch (Keras' 'sum_over_batch_size' reduction), differentiable with respect to y_pred. The
lower-case functions (``losses.hinge(y_true, y_pred)``) return the per-sample losses.

    base.py           Loss (reductions, sample weights), LossFunctionWrapper, the label checks
    crossentropy.py   categorical, sparse categorical and binary crossentropy; the fused softmax op
    focal.py          binary and categorical focal crossentropy
    regression.py     mse, mae, mape, msle, huber, log_cosh, cosine_similarity
    hinge.py          hinge, squared_hinge, categorical_hinge
    probabilistic.py  kl_divergence, poisson
"""
from .._registry import cannot_interpret, check_serialized, find_class, from_serialized, unknown_name
from .._registry import serialize  # noqa: F401  (public: losses.serialize)
from .base import EPSILON, FUNCTIONS, Loss, LossFunctionWrapper
from .crossentropy import (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
                           binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy)
from .focal import (BinaryFocalCrossentropy, CategoricalFocalCrossentropy, binary_focal_crossentropy,
                    categorical_focal_crossentropy)
from .hinge import CategoricalHinge, Hinge, SquaredHinge, categorical_hinge, hinge, squared_hinge
from .probabilistic import KLDivergence, Poisson, kl_divergence, poisson
from .regression import (CosineSimilarity, Huber, LogCosh, MeanAbsoluteError, MeanAbsolutePercentageError,
                         MeanSquaredError, MeanSquaredLogarithmicError, cosine_similarity, huber, log_cosh,
                         mean_absolute_error, mean_absolute_percentage_error, mean_squared_error,
                         mean_squared_logarithmic_error)

# Keras' short aliases for the functional forms.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
bce = BCE = binary_crossentropy
logcosh = log_cosh

_CLASSES = {cls.__name__: cls for cls in (
    CategoricalCrossentropy, SparseCategoricalCrossentropy, BinaryCrossentropy, BinaryFocalCrossentropy,
    CategoricalFocalCrossentropy, MeanSquaredError, MeanAbsoluteError, MeanAbsolutePercentageError,
    MeanSquaredLogarithmicError, Huber, LogCosh, CosineSimilarity, Hinge, SquaredHinge, CategoricalHinge,
    KLDivergence, Poisson, LossFunctionWrapper)}

# A name (function name or Keras alias) -> the Loss class compile(loss=name) builds.
_NAMES = {name: cls for cls in _CLASSES.values() if cls is not LossFunctionWrapper
          for name, fn in FUNCTIONS.items() if getattr(cls, "function", None) is fn}
_NAMES["huber_loss"] = Huber


def deserialize(config):
    check_serialized(config, "losses.deserialize")
    return from_serialized(config, _CLASSES, _NAMES, "Unknown loss class {name!r}. Known: {known}")


def get(identifier):
    """A Loss from a Keras name ('categorical_crossentropy', 'mse', 'MSE', 'kld', class names), a dict,
    a Loss object or a function ``fn(y_true, y_pred)``."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = find_class(identifier, _CLASSES, _NAMES)
        if isinstance(cls, type) and issubclass(cls, Loss):
            return cls()
        if callable(cls):  # a registered loss function
            return LossFunctionWrapper(cls, name=identifier.split(">")[-1])
        raise unknown_name(identifier, _NAMES, "loss", "losses")
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise cannot_interpret("losses.get", identifier, "a loss")


__all__ = [
    "Loss", "LossFunctionWrapper", "EPSILON", "get", "serialize", "deserialize",
    "BinaryCrossentropy", "BinaryFocalCrossentropy", "CategoricalCrossentropy", "CategoricalFocalCrossentropy",
    "CategoricalHinge", "CosineSimilarity", "Hinge", "Huber", "KLDivergence", "LogCosh", "MeanAbsoluteError",
    "MeanAbsolutePercentageError", "MeanSquaredError", "MeanSquaredLogarithmicError", "Poisson",
    "SparseCategoricalCrossentropy", "SquaredHinge",
    "binary_crossentropy", "binary_focal_crossentropy", "categorical_crossentropy", "categorical_focal_crossentropy",
    "categorical_hinge", "cosine_similarity", "hinge", "huber", "kl_divergence", "log_cosh", "mean_absolute_error",
    "mean_absolute_percentage_error", "mean_squared_error", "mean_squared_logarithmic_error", "poisson",
    "sparse_categorical_crossentropy", "squared_hinge",
    "mse", "MSE", "mae", "MAE", "mape", "MAPE", "msle", "MSLE", "kld", "KLD", "kullback_leibler_divergence", "bce",
    "BCE", "logcosh"]
