"""Shared fixtures: every test starts with fresh layer names and a seeded random stream.

A test module sets ``SEED = n`` to start from another seed (its expected numbers were taken
with it); the default is 0.
"""
import pytest

from tinygrad_relu import layers as L, utils


@pytest.fixture(autouse=True)
def fresh_state(request):
    L.reset_uids()
    utils.set_random_seed(getattr(request.module, "SEED", 0))
    yield
    L.reset_uids()


@pytest.fixture(scope="session")
def keras():
    """Keras 3 on its torch backend, imported once per session (skipped where it is not installed).

    Keras reads KERAS_BACKEND at import and changes no state our tests depend on, so it is imported
    in-process; a session that set another backend skips these tests rather than switch it.
    """
    import os
    backend = os.environ.setdefault("KERAS_BACKEND", "torch")
    if backend != "torch":
        pytest.skip(f"KERAS_BACKEND={backend}: the Keras comparisons run on the torch backend")
    pytest.importorskip("torch")
    module = pytest.importorskip("keras")
    if module.backend.backend() != "torch":
        pytest.skip("keras was imported earlier with another backend")
    return module
