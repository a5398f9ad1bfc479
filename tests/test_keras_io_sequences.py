"""keras-io's LSTM example runs here with only its imports changed (and its data made offline), and
pad_sequences, which it uses, behaves as Keras'."""
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from tinygrad_relu import preprocessing, utils

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "keras_io" / "bidirectional_lstm_imdb.py"


def test_bidirectional_lstm_imdb_example_trains(tmp_path):
    env = dict(os.environ, TINYGRAD_RELU_EXAMPLE_SMALL="1", OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = subprocess.run([sys.executable, str(EXAMPLE)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "bidirectional_1 (Bidirectional)" in run.stdout and "2,757,761" in run.stdout  # Keras' summary
    last = run.stdout.strip().splitlines()[-1]
    assert "Epoch" not in last and "val_accuracy" in last
    assert float(re.search(r"val_accuracy: ([0-9.]+)", last).group(1)) > 0.6  # above chance (0.5)
    source = EXAMPLE.read_text()
    assert "import tinygrad_relu as keras" in source and "from tinygrad_relu import layers" in source


def test_pad_sequences_by_hand():
    sequences = [[1, 2, 3], [4], [], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(preprocessing.sequence.pad_sequences(sequences, maxlen=3),
                                  [[1, 2, 3], [0, 0, 4], [0, 0, 0], [7, 8, 9]])
    np.testing.assert_array_equal(utils.pad_sequences(sequences, maxlen=2, padding="post", truncating="post",
                                                      value=-1),
                                  [[1, 2], [4, -1], [-1, -1], [5, 6]])
    assert preprocessing.pad_sequences(sequences).shape == (4, 5)
    assert preprocessing.pad_sequences([[[1, 2]], [[3, 4], [5, 6]]]).shape == (2, 2, 2)
    for bad, match in [(dict(padding="middle"), "padding type"), (dict(truncating="x"), "truncating type"),
                       (dict(maxlen=-1), "maxlen must be a non-negative integer"), (dict(value="pad"), "dtype")]:
        with pytest.raises(ValueError, match=match):
            preprocessing.pad_sequences(sequences, **bad)
    with pytest.raises(ValueError, match="list of iterables; item 1 is 7"):
        preprocessing.pad_sequences([[1], 7])


@pytest.mark.parametrize("options", [dict(), dict(maxlen=2), dict(maxlen=4, padding="post"),
                                     dict(maxlen=2, truncating="post", value=9.0), dict(dtype="float32")])
def test_pad_sequences_matches_keras(keras, options):
    sequences = [[3, 1, 4, 1, 5], [9, 2], [6], [], [5, 3, 5]]
    np.testing.assert_array_equal(preprocessing.pad_sequences(sequences, **options),
                                  keras.utils.pad_sequences(sequences, **options))
