"""pad_sequences: lists of different lengths -> one (samples, maxlen) array (Keras' ``pad_sequences``).

    >>> pad_sequences([[1, 2, 3], [4]], maxlen=2)          # 'pre': cut and pad at the front
    array([[2, 3],
           [0, 4]], dtype=int32)

Index 0 is the padding value by default, which is what ``Embedding(mask_zero=True)`` masks out.
"""
import numpy as np


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Pad (or cut) every sequence to ``maxlen`` (default: the longest): ``padding`` / ``truncating`` 'pre' act at
    the start of a sequence, 'post' at its end; the gaps hold ``value``. Items may themselves be arrays (all of
    one shape, taken from the first non-empty sequence)."""
    if padding not in ("pre", "post"):
        raise ValueError(f'pad_sequences: padding type "{padding}" not understood (use "pre" or "post")')
    if truncating not in ("pre", "post"):
        raise ValueError(f'pad_sequences: truncating type "{truncating}" not understood (use "pre" or "post")')
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be iterable.")
    lengths, sample_shape = [], None
    for position, sequence in enumerate(sequences):
        try:
            lengths.append(len(sequence))
        except TypeError:
            raise ValueError(f"pad_sequences: `sequences` must be a list of iterables; item {position} is "
                             f"{sequence!r}") from None
        if sample_shape is None and len(sequence):
            sample_shape = np.asarray(sequence).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths, default=0)
    if isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be a non-negative integer, received maxlen={maxlen!r}")
    textual = np.issubdtype(dtype, np.str_) or np.issubdtype(dtype, np.bytes_)
    if isinstance(value, str) and dtype is not object and not textual:
        raise ValueError(f"pad_sequences: `dtype` {dtype} is not compatible with `value`'s type: {type(value)}; "
                         "set dtype=object for variable-length strings")
    out = np.full((len(lengths), int(maxlen)) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for position, sequence in enumerate(sequences):
        if not len(sequence):
            continue
        kept = np.asarray(sequence[-maxlen:] if truncating == "pre" else sequence[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: the items of sequence {position} have shape {kept.shape[1:]}, unlike "
                             f"the first non-empty sequence's {tuple(sample_shape)}")
        if padding == "post":
            out[position, :len(kept)] = kept
        else:
            out[position, -len(kept):] = kept
    return out
