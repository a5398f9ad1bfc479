"""Keras 3's ``model.summary()`` table, drawn with the same box characters (without colour)."""
import shutil

import numpy as np


def readable_size(nbytes):
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if nbytes / 1024 < 1:
            return f"{nbytes:.2f} {unit}"
        nbytes /= 1024
    return f"{nbytes:.2f} PB"


def _weights_size(weights):
    return float(sum(w.size * w.dtype.itemsize for w in weights))


def column_widths(line_length, positions):
    """Each column's width (padding included) as Keras' rich table lays them out: the columns Keras asks for
    (``positions`` of the line, padded by one space a side) shrink evenly, rounding as Python does, until
    they and the borders fit in ``line_length``."""
    requested, current = [], 0
    for position in positions:
        width = int(position * line_length) - current
        requested.append(width + 2)
        current += width
    excess = sum(requested) - (line_length - len(positions) - 1)
    widths, remaining, ratio = [], excess, len(requested)
    for width in requested:  # rich's ratio_reduce with equal ratios
        cut = min(width, round(remaining / ratio))
        widths.append(width - cut)
        remaining -= cut
        ratio -= 1
    return tuple(widths)


def summary_text(model, rows, line_length=None, connected=False, show_trainable=False, positions=None):
    """The table for ``rows`` of (layer name (type), output shape, parameter count[, connected to][, trainable])
    texts, then the totals; ``connected`` adds Keras' 'Connected to' column (a Functional model that is not a
    chain), ``show_trainable`` its 'Trainable' column (Y, N, or - for a layer without weights)."""
    default_length = 108 if connected else 88
    if positions is None:
        positions = (0.3, 0.56, 0.74, 1.0) if connected else (0.45, 0.80, 1.0)
        if show_trainable:
            positions = tuple(p * 0.90 for p in positions) + (1.0,)
    if show_trainable:
        default_length += 12
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size().columns - 4)
    header = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if connected else ()) + \
        (("Trainable",) if show_trainable else ())
    if len(positions) != len(header):
        raise ValueError(f"summary: positions needs {len(header)} entries (one per column: {', '.join(header)}), "
                         f"received {list(positions)}")
    if any(int(b * line_length) - int(a * line_length) < 4 for a, b in zip((0.0,) + tuple(positions), positions)):
        raise ValueError("Insufficient console width to print summary.")
    widths = column_widths(line_length, positions)
    aligns = ("<", "<", ">") + (("<",) if connected else ()) + (("^",) if show_trainable else ())

    def border(left, fill, mid, right):
        return left + mid.join(fill * w for w in widths) + right

    def cells(values, edge):
        """One table row; text too wide for its column wraps at spaces onto more lines, as Keras' does."""
        columns = [_wrap(str(value), w - 2) for value, w in zip(values, widths)]
        height = max(len(c) for c in columns)
        out = []
        for k in range(height):
            parts = [" " + f"{(c[k] if k < len(c) else ''):{a}{w - 2}}" + " "
                     for c, w, a in zip(columns, widths, aligns)]
            out.append(edge + edge.join(parts) + edge)
        return "\n".join(out)

    lines = [f'Model: "{model.name}"',
             border("┏", "━", "┳", "┓"),
             cells(header, "┃"),
             border("┡", "━", "╇", "┩")]
    for i, row in enumerate(rows):
        if i:
            lines.append(border("├", "─", "┼", "┤"))
        lines.append(cells(row, "│"))
    lines.append(border("└", "─", "┴", "┘"))
    trainable = model.trainable_weights
    non_trainable = model.non_trainable_weights
    n_train = sum(w.size for w in trainable)
    n_non = sum(w.size for w in non_trainable)
    size_train, size_non = _weights_size(trainable), _weights_size(non_trainable)
    optimizer = model.optimizer
    n_opt = size_opt = None
    if model.compiled and optimizer is not None and getattr(optimizer, "built", False):
        # Keras counts every optimizer variable (iterations, the learning rate, the slots) at
        # 4 bytes each, and adds them to the total
        state = optimizer.get_state() if hasattr(optimizer, "get_state") else []
        n_opt = sum(np.asarray(a).size for a in state)
        size_opt = 4.0 * n_opt
    lines.append(f" Total params: {n_train + n_non + (n_opt or 0):,} "
                 f"({readable_size(size_train + size_non + (size_opt or 0.0))})")
    lines.append(f" Trainable params: {n_train:,} ({readable_size(size_train)})")
    lines.append(f" Non-trainable params: {n_non:,} ({readable_size(size_non)})")
    if n_opt is not None:
        lines.append(f" Optimizer params: {n_opt:,} ({readable_size(size_opt)})")
    return "\n".join(lines)


def _truncate(text, width):
    return text if len(text) <= width else text[:max(width - 1, 0)] + "…"


def _wrap(text, width):
    """Split text into lines of at most width characters, at spaces where possible."""
    lines, line = [], ""
    body = text.lstrip(" ")
    words = body.split(" ")
    words[0] = " " * (len(text) - len(body)) + words[0]  # an indented row (a nested layer) keeps its indent
    for word in words:
        word = _truncate(word, width)  # a word longer than the column ends in an ellipsis, as rich does
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines
