"""The switches that change what an op or a layer does, kept per thread; and the name counters.

Grad mode, anomaly detection, the layer whose call is running and "skip the initializers
while a file is loaded" are per thread, as PyTorch keeps its grad mode: a ``predict`` under
``no_grad`` in one thread must never stop a ``fit`` in another from recording its graph.
A new thread starts with the defaults below, whatever the thread that made it had set.

The automatic layer names (dense, dense_1, ...) are the one process-wide state, as Keras'
``backend.get_uid``: two threads building models share the counter (under a lock), so
names stay unique across them.
"""
import collections
import itertools
import threading


class _ThreadState(threading.local):
    grad_enabled = True      # Function.apply records the graph
    anomaly_hook = None      # debug.detect_anomaly(): a callable (op, stage, array) -> None
    skip_initializers = False  # layers built now get lazy zeros (their values are about to be loaded)

    call_depth = 0           # layer calls running (0: the next call is a top-level one)
    call_training = None     # the training value of the running call, which nested calls inherit
    inferring_shapes = False  # a layer runs on zeros to learn its output shape: add_loss records nothing
    safe_mode = True         # loading refuses code in files (a Lambda's bytecode) unless load_model(safe_mode=False)

    def __init__(self):
        self.layer_stack = []  # names of the layers whose call is running, innermost last
        self.custom_objects_scope = {}  # saving.custom_object_scope's objects, in this thread
        self.name_scope = []   # the layers (and models) building right now, outermost first: weight paths


local = _ThreadState()

_name_counts = collections.defaultdict(int)
_name_lock = threading.Lock()


def unique_name(base):
    """'dense', then 'dense_1', 'dense_2', ... for the same base name (process-wide, thread-safe)."""
    with _name_lock:
        count = _name_counts[base]
        _name_counts[base] += 1
    return base if count == 0 else f"{base}_{count}"


def reset_names():
    """Forget the counters, so the next Dense is called "dense" again (Keras' clear_session)."""
    with _name_lock:
        _name_counts.clear()


# Bumped whenever a layer gains a weight or a sublayer, is built, or changes trainable: a model
# caches what it derives from its layers (the trainable weights, which layers may add losses)
# until the number moves. itertools.count's next() is atomic, so no two bumps share a number.
_generations = itertools.count(1)
generation = 0


def structure_changed():
    global generation
    generation = next(_generations)
