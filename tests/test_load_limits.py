"""Files that amplify time or memory (issue 17, points 3 and 4): what a model file may declare is capped
(saving/limits.py), every weight and optimizer slot is checked against the model before any is read,
and no zip member inflates to more than its array. The bombs run in a child process under a 1.5 GB
address-space limit, which must end in a ModelFileError with a small peak RSS.
"""
import functools
import io
import json
import os
import struct
import sys
import time
import zipfile
import zlib

import numpy as np
import pytest

from tinygrad_relu import layers as L
from tinygrad_relu.models import Sequential, load_model
from tinygrad_relu.saving import ModelFileError, archive, limits, native

GIB = 1 << 30


def saved_model(path):
    model = Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)])
    model.compile("adam", "mse")
    model.train_on_batch(np.ones((5, 3), np.float32), np.zeros((5, 2), np.float32))
    model.save(path)
    return model


def members_of(path):
    with zipfile.ZipFile(path) as z:
        return {info.filename: z.read(info) for info in z.infolist()}


class Deflated:
    """A member given as raw deflate data with its CRC and inflated size (zipfile cannot write those)."""

    def __init__(self, data, crc, size):
        self.data, self.crc, self.size = data, crc, size


def write_zip(path, members):
    """A plain zip of (name, bytes or Deflated) members, written by hand: local headers, table, end record."""
    body, table = io.BytesIO(), io.BytesIO()
    for name, payload in members:
        if isinstance(payload, Deflated):
            method, data, crc, size = 8, payload.data, payload.crc, payload.size
        else:
            method, data, crc, size = 0, payload, zlib.crc32(payload), len(payload)
        encoded, offset = name.encode(), body.tell()
        body.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(encoded), 0) + encoded + data)
        table.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, method, 0, 0x21, crc, len(data), size,
                                len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(table.getvalue()),
                      body.tell(), 0)
    with open(path, "wb") as f:
        f.write(body.getvalue() + table.getvalue() + end)


@functools.cache
def zeros_bomb(header, nbytes):
    """Deflate data for ``header`` followed by ``nbytes`` zero bytes, made in milliseconds: fully flushed
    deflate blocks are independent and byte-aligned, so one block of a MiB of zeros repeats."""
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = [head.compress(header) + head.flush(zlib.Z_FULL_FLUSH)]
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    mib = bytes(1 << 20)
    chunk = block.compress(mib) + block.flush(zlib.Z_FULL_FLUSH)
    data.append(chunk * (nbytes >> 20))
    data.append(zlib.compressobj(9, zlib.DEFLATED, -15).flush())  # an empty final block
    crc = zlib.crc32(header)
    for _ in range(nbytes >> 20):
        crc = zlib.crc32(mib, crc)
    return Deflated(b"".join(data), crc, len(header) + nbytes)


def npy_header(shape, dtype="<f4"):
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
    return buffer.getvalue()


# ---- point 3: time linear in the layers; a cap on what a file declares ---------------------------------
def relu_stack_file(path, n_layers):
    """A model file of n ReLU layers, written directly (saving that many layers would take the time)."""
    layers = [{"class_name": "InputLayer", "config": {"batch_shape": [None, 2], "name": "in"}}]
    layers += [{"class_name": "ReLU", "config": {"name": f"r{i}"}} for i in range(n_layers)]
    config = {"class_name": "Sequential", "config": {"name": "s", "layers": layers}, "compile_config": None}
    metadata = {"format": "tinygrad_relu", "kind": "model", "format_version": 1}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps(metadata))
        z.writestr("config.json", json.dumps(config))
        z.writestr("weights.json", "[]")


def best_load_seconds(path, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        load_model(path)
        best = min(best, time.perf_counter() - start)
    return best


def test_load_time_grows_linearly_with_the_layers(tmp_path):
    relu_stack_file(tmp_path / "small.trm", 1500)
    relu_stack_file(tmp_path / "large.trm", 6000)
    small, large = best_load_seconds(tmp_path / "small.trm"), best_load_seconds(tmp_path / "large.trm")
    assert len(load_model(tmp_path / "large.trm").layers) == 6000
    assert large < 8 * small, (small, large)  # 4x the layers: about 4x the time (quadratic would be 16x)


def test_a_file_declaring_200000_layers_is_refused_fast(tmp_path):
    relu_stack_file(tmp_path / "huge.trm", 200_000)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match=rf"declares 200001 layers \(an input layer included\); a model file holds at "
                                             rf"most {limits.MAX_LAYERS}"):
        load_model(tmp_path / "huge.trm")
    assert time.perf_counter() - start < 4  # parsing the 10 MB of JSON (about 1.5 s here), nothing built


def test_a_zip_table_of_too_many_members_is_refused_before_it_is_parsed(tmp_path):
    n = limits.MAX_MEMBERS + 1
    names = [f"{i}".encode() for i in range(n)]
    table = b"".join(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0x21, 0, 0, 0, len(name),
                                 0, 0, 0, 0, 0, 0) + name for name in names)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(table), 0, 0)
    (tmp_path / "table.trm").write_bytes(table + end)
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match=rf"its table lists {n} members, more than the {limits.MAX_MEMBERS}"):
        load_model(tmp_path / "table.trm")
    assert time.perf_counter() - start < 1  # zipfile, which takes over a second for them, never parsed them


def test_json_nested_deeper_than_the_cap_is_refused(tmp_path):
    saved_model(tmp_path / "m.trm")
    members = members_of(tmp_path / "m.trm")
    config = json.loads(members["config.json"])
    deep = []
    for _ in range(limits.MAX_JSON_DEPTH):
        deep = [deep]
    config["config"]["layers"][1]["config"]["kernel_initializer"]["config"]["seed"] = deep
    members["config.json"] = json.dumps(config).encode()
    write_zip(tmp_path / "deep.trm", list(members.items()))
    with pytest.raises(ModelFileError, match=rf"config.json' nests lists and objects more than "
                                             rf"{limits.MAX_JSON_DEPTH} deep"):
        load_model(tmp_path / "deep.trm")


def test_json_with_more_values_than_the_cap_is_refused_before_parsing(tmp_path, monkeypatch):
    saved_model(tmp_path / "m.trm")
    members = members_of(tmp_path / "m.trm")
    members["weights.json"] = b"[" + b"0," * limits.MAX_JSON_VALUES + b"0]"
    write_zip(tmp_path / "values.trm", list(members.items()))
    real_loads = json.loads

    def loads(text, *args, **kwargs):
        assert len(text) < 1_000_000, "parsed the JSON member beyond the caps"
        return real_loads(text, *args, **kwargs)
    monkeypatch.setattr(json, "loads", loads)
    with pytest.raises(ModelFileError, match=r"weights.json': it holds up to 2000002 values, more than the 2000000"):
        load_model(tmp_path / "values.trm")


def test_save_refuses_a_model_whose_file_load_would_refuse(tmp_path, monkeypatch):
    model = saved_model(tmp_path / "m.trm")  # 2 layers, 4 weights, 2 + 8 optimizer arrays, 4 JSON members
    monkeypatch.setattr(native, "MAX_LAYERS", 3)
    model.save(tmp_path / "ok.trm")
    load_model(tmp_path / "ok.trm")
    monkeypatch.setattr(native, "MAX_LAYERS", 2)
    with pytest.raises(ValueError, match=r"save: model 'sequential' has 3 layers \(an input layer included\); a "
                                         r"model file holds at most 2"):
        model.save(tmp_path / "layers.trm")
    monkeypatch.setattr(native, "MAX_LAYERS", limits.MAX_LAYERS)
    monkeypatch.setattr(native, "MAX_MEMBERS", 17)
    with pytest.raises(ValueError, match=r"model 'sequential' needs 18 arrays and JSON members .* at most 17"):
        model.save(tmp_path / "members.trm")
    with pytest.raises(ValueError, match=r"needs 6 arrays"):
        monkeypatch.setattr(native, "MAX_MEMBERS", 5)
        model.save_weights(tmp_path / "weights.trm")
    monkeypatch.setattr(native, "MAX_MEMBERS", limits.MAX_MEMBERS)
    monkeypatch.setattr(archive, "MAX_JSON_BYTES", 1000)  # config.json is about 1.6 kB
    with pytest.raises(ValueError, match=r"save: cannot write config.json: it is \d+ bytes, more than the 1000"):
        model.save(tmp_path / "json.trm")
    assert sorted(os.listdir(tmp_path)) == ["m.trm", "ok.trm"]  # nothing written, no temporaries left


# ---- point 4: optimizer slots against the model, members bounded by their arrays ------------------------
def test_every_optimizer_slot_is_checked_against_the_model_before_any_is_read(tmp_path, monkeypatch):
    saved_model(tmp_path / "m.trm")
    members = members_of(tmp_path / "m.trm")
    spec = json.loads(members["optimizer.json"])
    assert [e["shape"] for e in spec["state"]] == [[], [], [3, 4], [4], [4, 2], [2], [3, 4], [4], [4, 2], [2]]
    spec["state"][-1]["shape"] = [3]  # the last slot: every other one matches
    write_zip(tmp_path / "slot.trm", list({**members, "optimizer.json": json.dumps(spec).encode()}.items()))
    reads = []
    original = archive.Archive.read_array
    monkeypatch.setattr(archive.Archive, "read_array",
                        lambda self, *a, **k: reads.append(a) or original(self, *a, **k))
    with pytest.raises(ModelFileError, match=r"optimizer state 9 has shape \[3\] in the file but \(2,\) in the model"):
        load_model(tmp_path / "slot.trm")
    assert not [a for a in reads if "optimizer" in str(a)]

    spec["state"] = spec["state"][:-2]  # a slot too few: counted before anything is read
    write_zip(tmp_path / "count.trm", list({**members, "optimizer.json": json.dumps(spec).encode()}.items()))
    with pytest.raises(ModelFileError, match=r"the optimizer state holds 8 arrays, but Adam for the 4 trainable "
                                             r"weights of model '.*' keeps 10"):
        load_model(tmp_path / "count.trm")

    spec = json.loads(members["optimizer.json"])
    spec["state"][2]["dtype"] = "float64"
    write_zip(tmp_path / "dtype.trm", list({**members, "optimizer.json": json.dumps(spec).encode()}.items()))
    with pytest.raises(ModelFileError, match=r"optimizer state 2 has dtype float64 in the file but float32"):
        load_model(tmp_path / "dtype.trm")


def test_memory_exhaustion_while_loading_is_a_model_file_error(tmp_path, monkeypatch):
    saved_model(tmp_path / "m.trm")

    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 4.00 GiB")
    monkeypatch.setattr(archive.Archive, "read_array", exhausted)
    with pytest.raises(ModelFileError, match=r"not enough memory for the model it describes"):
        load_model(tmp_path / "m.trm")
    fresh = Sequential([L.Dense(4, activation="relu", input_shape=(3,)), L.Dense(2)])
    with pytest.raises(ModelFileError, match=r"not enough memory to read its weights"):
        fresh.load_weights(tmp_path / "m.trm")


def test_arrays_read_into_the_model_exactly_also_in_fortran_order_or_big_endian(tmp_path):
    model = saved_model(tmp_path / "m.trm")
    loaded = load_model(tmp_path / "m.trm")
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # arrays written by another tool: Fortran order, big-endian, an older header layout
    members = members_of(tmp_path / "m.trm")
    kernel = model.get_weights()[0]
    buffer = io.BytesIO()
    np.save(buffer, np.asfortranarray(kernel).astype(">f4"))
    members["weights/0.npy"] = buffer.getvalue()
    write_zip(tmp_path / "other.trm", list(members.items()))
    np.testing.assert_array_equal(load_model(tmp_path / "other.trm").get_weights()[0], kernel)




def bomb_files(tmp_path):
    saved_model(tmp_path / "m.trm")
    members = members_of(tmp_path / "m.trm")
    spec = json.loads(members["optimizer.json"])
    weights = json.loads(members["weights.json"])
    bombs = {}

    # an optimizer slot claiming 1 GiB (1 MB compressed), where the model's slot has 12 floats
    slot = dict(spec, state=[dict(e) for e in spec["state"]])
    slot["state"][2]["shape"] = [GIB // 4]
    bombs["optimizer slot of 1 GiB"] = dict(members, **{
        "optimizer.json": json.dumps(slot).encode(),
        spec["state"][2]["path"]: zeros_bomb(npy_header([GIB // 4]), GIB)})
    # the same slot with its manifest entry left alone: only the member is a bomb
    bombs["optimizer member inflating to 1 GiB"] = dict(members, **{
        spec["state"][2]["path"]: zeros_bomb(npy_header([3, 4]), GIB)})
    # a weight member holding 1 GiB after a header that says (3, 4)
    bombs["weight member inflating to 1 GiB"] = dict(members, **{
        weights[0]["path"]: zeros_bomb(npy_header([3, 4]), GIB)})
    # a member whose table entry claims its true array size, but whose data inflates to 1 GiB
    lying, true_start = zeros_bomb(npy_header([3, 4]), GIB), npy_header([3, 4]) + bytes(48)
    bombs["member longer than its table entry says"] = dict(members, **{
        weights[0]["path"]: Deflated(lying.data, zlib.crc32(true_start), len(true_start))})
    # config.json of 16 MiB of empty objects (16 KB compressed): 430 MB of Python objects if parsed
    empty_objects = b"[" + b"{}," * ((limits.MAX_JSON_BYTES - 4) // 3) + b"{}]"
    head = zlib.compressobj(9, zlib.DEFLATED, -15)
    bombs["JSON of 5.6 million values"] = dict(members, **{
        "config.json": Deflated(head.compress(empty_objects) + head.flush(), zlib.crc32(empty_objects),
                                len(empty_objects))})
    # an architecture whose weights would take 8 GiB
    config = json.loads(members["config.json"])
    config["config"]["layers"][-1]["config"]["units"] = 2 ** 29
    bombs["layer of 8 GiB"] = dict(members, **{"config.json": json.dumps(config).encode()})
    paths = {}
    for i, (name, content) in enumerate(bombs.items()):
        paths[name] = tmp_path / f"bomb{i}.trm"
        write_zip(paths[name], list(content.items()))
        assert os.path.getsize(paths[name]) < 1_200_000, name
    return paths


BOMBS = ["optimizer slot of 1 GiB", "optimizer member inflating to 1 GiB", "weight member inflating to 1 GiB",
         "member longer than its table entry says", "JSON of 5.6 million values", "layer of 8 GiB"]


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    return bomb_files(tmp_path_factory.mktemp("bombs"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and ru_maxrss in KiB: Linux")
@pytest.mark.parametrize("bomb", BOMBS)
def test_bombs_are_refused_under_a_memory_cap_with_a_small_peak(bombs, bomb, load_under_memory_cap):
    result = load_under_memory_cap(bombs[bomb])
    if bomb == "member longer than its table entry says":  # zipfile reads what the table says, no more
        assert result["outcome"] == "loaded" or result["outcome"].startswith("ModelFileError"), result
    else:
        assert result["outcome"].startswith("ModelFileError"), result
    assert result["growth_mb"] < 100, result
