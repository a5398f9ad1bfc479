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
