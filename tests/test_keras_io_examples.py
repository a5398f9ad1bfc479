"""The keras-io scripts in examples/keras_io/ run here (small data, few epochs), and agree with the same scripts
run on Keras 3 (only the import differs) within what a different random initialization changes."""
import json
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
GUIDE = ROOT / "examples" / "keras_io" / "training_with_built_in_methods.py"
FRAUD = ROOT / "examples" / "keras_io" / "imbalanced_classification.py"
TIMESERIES = ROOT / "examples" / "keras_io" / "timeseries_classification_from_scratch.py"


def run(script, tmp_path, with_keras=False, seed=0, timeout=900):
    results = tmp_path / f"{'keras' if with_keras else 'ours'}_{seed}.json"
    env = dict(os.environ, TINYGRAD_RELU_EXAMPLE_SMALL="1", KERAS_IO_RESULTS=str(results), MPLBACKEND="Agg",
               OPENBLAS_NUM_THREADS="1", KERAS_IO_SEED=str(seed),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("KERAS_IO_WITH", None)
    if with_keras:
        env.update(KERAS_IO_WITH="keras", KERAS_BACKEND="torch")
    result = subprocess.run([sys.executable, str(script)], cwd=str(tmp_path), env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, f"{script.name} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr
    return json.loads(results.read_text()), result.stdout


@pytest.fixture(scope="module")
def guide(tmp_path_factory):
    return run(GUIDE, tmp_path_factory.mktemp("guide"))


@pytest.fixture(scope="module")
def fraud(tmp_path_factory):
    return run(FRAUD, tmp_path_factory.mktemp("fraud"))


def test_the_training_guide_runs_every_section(guide):
    results, stdout = guide
    assert results["history_keys"] == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    for key in ("end_to_end_test_accuracy", "validation_split_accuracy", "generator_test_accuracy",
                "generator_validation_accuracy", "validation_steps_accuracy", "py_dataset_accuracy",
                "py_dataset_workers_accuracy", "restored_test_accuracy"):
        assert results[key] > 0.7, key  # the synthetic digits are learnable (chance: 0.1): every path trains
    if "torch_dataloader_accuracy" in results:
        assert results["torch_dataloader_accuracy"] > 0.7
    assert results["logistic_endpoint_loss_is_finite"] and results["multi_output_generator_loss_is_finite"]
    assert results["multi_output_history_keys"] == ["class_output_loss", "loss", "score_output_loss"]
    assert results["per_batch_losses"] == 40 and results["predictions_shape"] == [3, 10]
    assert results["schedule_learning_rate"] == pytest.approx(0.1)
    assert "Restoring from" in stdout and "val_loss improved from None to" in stdout  # (Keras 3 prints None too)


def test_the_fraud_example_trains_with_class_weights(fraud):
    results, stdout = fraud
    assert results["history_keys"] == sorted(["fn", "fp", "tn", "tp", "precision", "recall", "loss"] +
                                             ["val_" + k for k in ("fn", "fp", "tn", "tp", "precision", "recall",
                                                                   "loss")])
    assert results["checkpoints"] == [f"fraud_model_at_epoch_{i}.keras" for i in (1, 2, 3)]
    assert results["val_recall"] >= 0.6 and results["val_fp_rate"] < 0.1  # the class weights do their job
    assert 'Model: "sequential"' in stdout and "Optimizer params" not in stdout


def ours_and_keras(script, seed0, tmp_path):
    """(our results for seeds 0, 1, 2, Keras' results): seed 0 is the module fixture's run (seed0)."""
    ours_by_seed = [seed0[0]] + [run(script, tmp_path, seed=seed)[0] for seed in (1, 2)]
    theirs, _ = run(script, tmp_path, with_keras=True)
    return ours_by_seed, theirs


def within_seed_noise(ours_by_seed, theirs, key, floor):
    """Keras' value lies in the range our seeds span, widened by that range's width (at least ``floor``)."""
    values = [ours[key] for ours in ours_by_seed]
    low, high = min(values), max(values)
    margin = max(high - low, floor)
    assert low - margin <= theirs[key] <= high + margin, f"{key}: Keras {theirs[key]:.4f}, ours {values}"


@pytest.mark.slow
def test_the_training_guide_agrees_with_keras(keras, guide, tmp_path):
    """Keras 3 runs the same script once; ours runs with three seeds, to see how much a seed moves each number
    (one epoch on a small set: accuracies move by up to 0.15 between seeds)."""
    ours_by_seed, theirs = ours_and_keras(GUIDE, guide, tmp_path)
    # Keras 3 keeps the metrics of an earlier compile() when compile() is called again without metrics (the
    # guide's multi-output section recompiles that way); here a compile() without metrics has none.
    theirs_keys = [k for k in theirs.pop("multi_output_history_keys") if k.endswith("loss")]
    assert all(ours["multi_output_history_keys"] == theirs_keys for ours in ours_by_seed)
    assert set(ours_by_seed[0]) == set(theirs) | {"multi_output_history_keys"}
    for key, value in theirs.items():
        if isinstance(value, float):
            within_seed_noise(ours_by_seed, theirs, key, 0.05 if key.endswith(("accuracy", "share")) else
                              0.1 * abs(value))
        else:
            assert all(ours[key] == value for ours in ours_by_seed), key


@pytest.mark.slow
def test_the_fraud_example_agrees_with_keras(keras, fraud, tmp_path):
    ours_by_seed, theirs = ours_and_keras(FRAUD, fraud, tmp_path)
    for ours in ours_by_seed:
        assert ours["history_keys"] == theirs["history_keys"] and ours["checkpoints"] == theirs["checkpoints"]
        assert ours["val_positives"] == theirs["val_positives"]
    within_seed_noise(ours_by_seed, theirs, "val_recall", 2 / theirs["val_positives"])  # steps of 1/13
    within_seed_noise(ours_by_seed, theirs, "val_fp_rate", 0.01)


@pytest.fixture(scope="module")
def timeseries(tmp_path_factory):
    return run(TIMESERIES, tmp_path_factory.mktemp("timeseries"))


@pytest.mark.slow
def test_the_timeseries_example_trains_its_fully_convolutional_net(timeseries):
    results, stdout = timeseries
    assert results["history_keys"] == ["learning_rate", "loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]  # ReduceLROnPlateau logs the rate
    assert results["test_accuracy"] > 0.6  # chance: 0.5
    assert results["argmax_accuracy"] == pytest.approx(results["test_accuracy"])  # the reloaded best checkpoint
    assert "global_average_pooling1d" in stdout and "(GlobalAveragePooling1D)" in stdout  # (the table wraps)


@pytest.mark.slow
def test_the_timeseries_example_agrees_with_keras(keras, timeseries, tmp_path):
    ours_by_seed, theirs = ours_and_keras(TIMESERIES, timeseries, tmp_path)
    for ours in ours_by_seed:
        assert ours["history_keys"] == theirs["history_keys"] and ours["epochs_run"] == theirs["epochs_run"]
    within_seed_noise(ours_by_seed, theirs, "test_accuracy", 0.1)
    within_seed_noise(ours_by_seed, theirs, "best_val_loss", 0.1)
