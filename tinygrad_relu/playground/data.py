"""The playground's data: a synthetic set from ``tinygrad_relu.datasets``, or the learner's CSV.

A CSV holds two feature columns and a label column (an optional header row, comma, semicolon
or tab separated, up to ``MAX_CSV_ROWS`` rows). Every way a file can be wrong gets a message
that names the line and the value, shown on the page. Features are standardized (zero mean,
unit variance per column) so that any units give the network the same footing as the
synthetic sets; the exported script holds the standardized values.
"""
import csv
import io
from typing import NamedTuple

import numpy as np

from .. import datasets
from .settings import MAX_CSV_ROWS

MIN_CSV_ROWS = 10
MAX_CLASSES = 10


class Data(NamedTuple):
    x_train: np.ndarray   # (n, 2) float32
    y_train: np.ndarray   # (n,) int64 class indices
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list     # the label of each class index, as the page shows it
    source: str           # 'spirals', ..., or 'csv'


class CsvData(NamedTuple):
    x: np.ndarray         # (rows, 2) float32, standardized
    y: np.ndarray         # (rows,) int64
    class_names: list
    mean: list            # per feature, of the raw values (the page shows them)
    std: list


class CsvError(ValueError):
    """A CSV file the playground cannot take; the message says why and where."""


def generator_call(settings):
    """(generator name, keyword arguments) that draw the synthetic data set of ``settings``."""
    name = settings["dataset"]
    kwargs = {"n_samples": settings["points"], "test_fraction": settings["test"], "seed": settings["seed"]}
    if name == "blobs":
        kwargs["cluster_std"] = settings["noise"]
    else:
        kwargs["noise"] = settings["noise"]
    return name, kwargs


def split(x, y, test_fraction, seed):
    """Shuffle once with ``seed`` and cut the last ``test_fraction`` off as the test set (as datasets do)."""
    order = np.random.default_rng(seed).permutation(len(x))
    n_test = min(len(x) - 1, max(1, int(round(len(x) * test_fraction))))
    cut = len(x) - n_test
    x, y = x[order], y[order]
    return (x[:cut], y[:cut]), (x[cut:], y[cut:])


def make_data(settings, csv_data=None):
    """The Data of ``settings``: generated, or ``csv_data`` split by the test fraction and seed."""
    if settings["dataset"] == "csv":
        if csv_data is None:
            raise ValueError("dataset 'csv' needs a file: upload a CSV first")
        (x, y), (xt, yt) = split(csv_data.x, csv_data.y, settings["test"], settings["seed"])
        return Data(x, y, xt, yt, list(csv_data.class_names), "csv")
    name, kwargs = generator_call(settings)
    (x, y), (xt, yt) = datasets.GENERATORS[name](**kwargs)
    n_classes = int(max(y.max(), yt.max())) + 1
    return Data(x.astype(np.float32), y.astype(np.int64), xt.astype(np.float32), yt.astype(np.int64),
                [str(i) for i in range(n_classes)], name)


# ---- CSV ---------------------------------------------------------------------------------------
def _delimiter(line):
    for candidate in (",", ";", "\t"):
        if candidate in line:
            return candidate
    raise CsvError("line 1: found no comma, semicolon or tab; a row is x1,x2,label")


def _float(text):
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _class_order(labels):
    """Class names in numeric order when every label is a number, else alphabetical."""
    unique = set(labels)
    if all(_float(label) is not None for label in unique):
        return sorted(unique, key=float)
    return sorted(unique)


def parse_csv(data):
    """CsvData from the bytes (or text) of a CSV file; CsvError says what is wrong and where."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as err:
            raise CsvError(f"the file is not UTF-8 text (byte {err.start} cannot be decoded); save it as CSV text") \
                from None
    if "\x00" in data:
        raise CsvError("the file holds NUL bytes: it is not a CSV text file")
    lines = data.splitlines()
    numbered = [(i + 1, line) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        raise CsvError("the file is empty; a CSV needs rows of x1,x2,label")
    delimiter = _delimiter(numbered[0][1])
    rows = list(csv.reader([line for _, line in numbered], delimiter=delimiter))
    if len(rows) != len(numbered):  # an unclosed quote swallowed the lines after it
        raise CsvError("a quoted field is never closed (a \" without its partner); check the quotes")
    start = 0
    first = rows[0]
    if len(first) >= 2 and (_float(first[0]) is None or _float(first[1]) is None):
        start = 1  # a header row: its first two fields are not numbers
    if len(rows) - start > MAX_CSV_ROWS:
        raise CsvError(f"the file has {len(rows) - start:,} data rows; the playground takes at most "
                       f"{MAX_CSV_ROWS:,}")
    if len(rows) - start < MIN_CSV_ROWS:
        raise CsvError(f"the file has {len(rows) - start} data rows; the playground needs at least {MIN_CSV_ROWS}")
    features = np.empty((len(rows) - start, 2), dtype=np.float64)
    labels = []
    for k, row in enumerate(rows[start:]):
        line_number = numbered[start + k][0]
        if len(row) != 3:
            raise CsvError(f"line {line_number}: expected 3 columns (x1{delimiter}x2{delimiter}label), "
                           f"found {len(row)}: {numbered[start + k][1][:60]!r}")
        for column in (0, 1):
            value = _float(row[column])
            if value is None:
                raise CsvError(f"line {line_number}: column {column + 1} must be a finite number, "
                               f"got {row[column].strip()[:30]!r}")
            features[k, column] = value
        label = row[2].strip()
        if not label:
            raise CsvError(f"line {line_number}: the label (column 3) is empty")
        labels.append(label)
    names = _class_order(labels)
    if len(names) < 2:
        raise CsvError(f"every row has the label {names[0]!r}; a classifier needs at least 2 classes")
    if len(names) > MAX_CLASSES:
        raise CsvError(f"found {len(names)} different labels in column 3; the playground takes at most "
                       f"{MAX_CLASSES} classes (is column 3 the label?)")
    index = {name: i for i, name in enumerate(names)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    mean = features.mean(axis=0)
    std = features.std(axis=0)
    for column in (0, 1):
        if std[column] == 0:
            raise CsvError(f"column {column + 1} has the same value ({features[0, column]:g}) in every row")
    x = ((features - mean) / std).astype(np.float32)
    return CsvData(x, y, names, mean.tolist(), std.tolist())


def csv_text(csv_data):
    """A CSV of the standardized features and class indices (what the exported script embeds)."""
    out = io.StringIO()
    for (a, b), label in zip(csv_data.x.tolist(), csv_data.y.tolist()):
        out.write(f"{a!r},{b!r},{label}\n")
    return out.getvalue()
