"""ONNX export (issue 14): ``model.export(path, format="onnx")`` run in onnxruntime predicts what the model
predicts here, to 1e-5 on float32, for any batch size (the batch axis is dynamic). Channels-last data meets
ONNX's channels-first Conv and pooling through transposes, checked on non-square inputs with strides,
dilations and every padding. A layer without an ONNX form is named in the error."""
import numpy as np
import pytest

import tinygrad_relu as tr
from tinygrad_relu import activations, layers as L, saving
from tinygrad_relu.export import ACTIVATIONS, CONVERTERS, NO_ONNX_FORM, ExportError, to_onnx
from tinygrad_relu.ops.activation import TABLE

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
rng = np.random.default_rng(7)
TOLERANCE = dict(rtol=1e-5, atol=1e-5)


def run_onnx(path, inputs):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {spec.name: x for spec, x in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)


def assert_exports_faithfully(model, tmp_path, shapes, **export_kwargs):
    """Export, then compare onnxruntime with predict for batches of 1 and 5 (one export: the batch is dynamic)."""
    path = tmp_path / "model.onnx"
    model.export(path, format="onnx", **export_kwargs)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert all(spec.shape[0] == "batch" for spec in session.get_inputs())
    for batch in (1, 5):
        inputs = [rng.standard_normal((batch,) + shape).astype(model_dtype(model)) for shape in shapes]
        ours = model.predict(inputs if len(inputs) > 1 else inputs[0], verbose=0)
        ours = ours if isinstance(ours, list) else [ours]
        theirs = run_onnx(path, inputs)
        assert len(theirs) == len(ours)
        for a, b in zip(theirs, ours):
            assert a.shape == b.shape and a.dtype == b.dtype
            np.testing.assert_allclose(a, b, **TOLERANCE)
    return path


def model_dtype(model):
    inputs = getattr(model, "inputs", None)
    return np.dtype(inputs[0].dtype if inputs else model.dtype)


def trained_a_little(model, x, y, loss="mse"):
    """A few steps, so that BatchNormalization's moving statistics and PReLU's slopes are not their defaults."""
    model.compile("adam", loss)
    for _ in range(3):
        model.train_on_batch(x, y)
    return model


def test_mlp(tmp_path):
    model = tr.Sequential([L.Input((20,)), L.Dense(32, activation="relu"), L.Dropout(0.5),
                           L.Dense(16, activation="tanh"), L.Dense(4, activation="softmax")])
    assert_exports_faithfully(model, tmp_path, [(20,)])


def test_seed_cnn(tmp_path):
    model = tr.Sequential([L.Input((28, 28, 1)), L.Conv2D(32, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)),
                           L.Conv2D(64, (3, 3), activation="relu"), L.MaxPooling2D((2, 2)), L.Flatten(),
                           L.Dense(128, activation="relu"), L.Dense(10, activation="softmax")])
    path = assert_exports_faithfully(model, tmp_path, [(28, 28, 1)])
    graph = onnx.load(str(path)).graph
    kernels = {init.name: tuple(init.dims) for init in graph.initializer}
    assert kernels["conv2d/kernel"] == (32, 1, 3, 3) and kernels["conv2d_1/kernel"] == (64, 32, 3, 3)
    # channels first before the first convolution and back before Flatten: the pairs between cancel
    assert [n.op_type for n in graph.node] == ["Transpose", "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool",
                                               "Transpose", "Flatten", "MatMul", "Add", "Relu", "MatMul", "Add",
                                               "Softmax", "Identity"]


@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 2, 1), ("same", 1, 2),
                                                      ("causal", 1, 3), ("valid", 3, 1)])
def test_conv1d_layouts(tmp_path, padding, strides, dilation):
    model = tr.Sequential([L.Input((23, 3)), L.Conv1D(5, 4, strides=strides, padding=padding, dilation_rate=dilation,
                                                      activation="elu"),
                           L.MaxPooling1D(2, padding="same"), L.AveragePooling1D(3, strides=1),
                           L.GlobalMaxPooling1D(), L.Dense(2)])
    assert_exports_faithfully(model, tmp_path, [(23, 3)])


@pytest.mark.parametrize("padding,strides,dilation", [("valid", (1, 1), (1, 1)), ("same", (2, 3), (1, 1)),
                                                      ("same", (1, 1), (2, 1)), ("valid", (2, 1), (1, 1))])
def test_conv2d_and_pooling_layouts_on_non_square_inputs(tmp_path, padding, strides, dilation):
    model = tr.Sequential([L.Input((11, 7, 3)), L.Conv2D(4, (3, 2), strides=strides, padding=padding,
                                                         dilation_rate=dilation, activation="silu"),
                           L.AveragePooling2D((2, 2), strides=(1, 2), padding="same"),
                           L.MaxPooling2D((2, 1), padding="valid"), L.GlobalAveragePooling2D(keepdims=True),
                           L.Flatten(), L.Dense(3)])
    assert_exports_faithfully(model, tmp_path, [(11, 7, 3)])


def test_batchnorm_and_prelu(tmp_path):
    model = tr.Sequential([L.Input((9, 9, 2)), L.Conv2D(6, 3, padding="same"), L.BatchNormalization(),
                           L.PReLU(shared_axes=[1, 2], alpha_initializer="random_uniform"), L.MaxPooling2D(),
                           L.Flatten(), L.Dense(8), L.BatchNormalization(momentum=0.5, epsilon=0.01,
                                                                         scale=False),
                           L.PReLU(alpha_initializer="random_uniform"), L.Dense(3)])
    x = rng.standard_normal((16, 9, 9, 2)).astype(np.float32)
    trained_a_little(model, x, rng.standard_normal((16, 3)).astype(np.float32))
    batchnorm = model.layers[1]
    assert not np.allclose(batchnorm.moving_mean.data, 0) and not np.allclose(batchnorm.moving_variance.data, 1)
    assert_exports_faithfully(model, tmp_path, [(9, 9, 2)])


def residual(width=16):
    inner = tr.Sequential([L.Input((width,)), L.Dense(width, activation="relu"), L.Dense(width)], name="branch")
    x = tr.Input((12,), name="features")
    h = L.Dense(width, activation="relu", name="stem")(x)
    r = L.Activation("relu", name="act")(L.add([h, inner(h)], name="skip"))
    return tr.Model(x, L.Dense(3, activation="softmax", name="head")(r), name="residual")


def test_functional_residual_block_with_a_nested_model(tmp_path):
    assert_exports_faithfully(residual(), tmp_path, [(12,)])


def test_every_merge_layer_and_several_inputs_and_outputs(tmp_path):
    a, b = tr.Input((3, 4), name="a"), tr.Input((3, 4), name="b")
    merged = [L.Add()([a, b]), L.Subtract()([a, b]), L.Multiply()([a, b, a]), L.Average()([a, b, b]),
              L.Maximum()([a, b]), L.Minimum()([a, b]), L.Concatenate(axis=1)([a, b])]
    dots = [L.Dot(axes=(2, 2))([a, b]), L.Dot(axes=(1, 1), normalize=True)([a, b]),
            L.Dot(axes=-1)([L.Flatten()(a), L.Flatten()(b)])]
    model = tr.Model([a, b], merged + dots)
    assert_exports_faithfully(model, tmp_path, [(3, 4), (3, 4)])


def test_reshape_flatten_softmax_and_the_activation_layers(tmp_path):
    x = tr.Input((4, 6), name="x")
    h = L.Reshape((3, -1))(L.Dense(6)(x))
    h = L.Flatten()(L.Softmax(axis=1)(h))
    outputs = [L.ReLU()(h), L.ReLU(max_value=0.05)(h), L.ReLU(negative_slope=0.3)(h),
               L.ReLU(max_value=0.06, negative_slope=0.2, threshold=0.04)(h), L.LeakyReLU(0.1)(h), L.ELU(0.5)(h)]
    assert_exports_faithfully(tr.Model(x, outputs), tmp_path, [(4, 6)])


@pytest.mark.parametrize("name", [row.name for row in TABLE])
def test_every_activation_of_the_table(tmp_path, name):
    x = tr.Input((10,), name="x")
    model = tr.Model(x, [L.Dense(7, activation=name)(x), L.Activation(name)(x)])
    model.set_weights([w * 3.0 for w in model.get_weights()])  # reach the tails and the kinks
    assert_exports_faithfully(model, tmp_path, [(10,)])


def perturbed(model, scale=0.3):
    """The trainable weights moved off their initial values (gammas off 1, betas off 0)."""
    for weight in model.trainable_weights:
        weight.data[...] += (rng.standard_normal(weight.shape) * scale).astype(weight.data.dtype)
    return model


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv_variants_2d(tmp_path, padding):
    model = tr.Sequential([
        L.Input((9, 8, 4)), L.Conv2D(6, 3, groups=2, padding=padding, activation="relu"),
        L.DepthwiseConv2D((3, 2), strides=2, depth_multiplier=2, padding=padding, activation="tanh"),
        L.SeparableConv2D(5, 2, depth_multiplier=2, padding=padding, dilation_rate=(1, 2) if padding == "valid" else 1),
        L.Conv2DTranspose(3, 3, strides=2, padding=padding, activation="elu"),
        L.Conv2DTranspose(2, (2, 3), strides=(3, 2), padding=padding, output_padding=(1, 0)),
        L.Conv2DTranspose(2, 3, dilation_rate=2, padding=padding, use_bias=False, activation="softmax")])
    assert_exports_faithfully(perturbed(model, 0.1), tmp_path, [(9, 8, 4)])


def test_conv_variants_1d_reshaping_and_the_layers_that_are_the_identity_at_inference(tmp_path):
    model = tr.Sequential([
        L.Input((13, 6)), L.GaussianNoise(0.5), L.Conv1D(6, 3, groups=3, padding="causal"), L.SpatialDropout1D(0.5),
        L.DepthwiseConv1D(3, strides=2, padding="same", depth_multiplier=3, activation="silu"),
        L.GaussianDropout(0.5), L.SeparableConv1D(4, 3, padding="valid", activation="relu"), L.AlphaDropout(0.5),
        L.Conv1DTranspose(5, 4, strides=3, padding="same"), L.Conv1DTranspose(3, 2, strides=2, output_padding=1),
        L.ActivityRegularization(l1=0.1), L.UpSampling1D(3), L.ZeroPadding1D((2, 1)), L.Cropping1D((3, 1)),
        L.Cropping1D((1, 0)), L.Identity(), L.Permute((2, 1)), L.Flatten(), L.Dense(4), L.RepeatVector(3),
        L.Permute((2, 1)), L.Flatten()])
    assert_exports_faithfully(perturbed(model, 0.1), tmp_path, [(13, 6)])


def test_channels_first_layers(tmp_path):
    cf = dict(data_format="channels_first")
    model = tr.Sequential([
        L.Input((3, 10, 9)), L.Conv2D(4, 3, padding="same", groups=1, **cf), L.MaxPooling2D(**cf),
        L.UpSampling2D((2, 3), interpolation="bilinear", **cf), L.ZeroPadding2D(((1, 0), (2, 3)), **cf),
        L.Cropping2D(((0, 2), (1, 1)), **cf), L.DepthwiseConv2D(3, depth_multiplier=2, **cf),
        L.SeparableConv2D(3, 3, padding="same", **cf), L.Conv2DTranspose(2, 3, strides=2, **cf),
        L.SpatialDropout2D(0.3, **cf), L.UpSampling2D(2, **cf), L.AveragePooling2D(3, **cf),
        L.GlobalAveragePooling2D(keepdims=True, **cf), L.Flatten(**cf)])
    assert_exports_faithfully(perturbed(model, 0.1), tmp_path, [(3, 10, 9)])
    x = tr.Input((4, 7), name="x")
    y = L.Conv1D(3, 2, **cf)(L.ZeroPadding1D(1, **cf)(x))
    model = tr.Model(x, [L.Flatten(**cf)(y), L.GlobalMaxPooling1D(**cf)(y)])
    assert_exports_faithfully(model, tmp_path, [(4, 7)])


def test_normalization_and_preprocessing_layers(tmp_path):
    x = tr.Input((6, 4), name="x")
    norm = L.Normalization()
    norm.adapt(rng.standard_normal((50, 6, 4)) * 3.0 + 1.5)
    scaled = L.Rescaling(np.linspace(0.5, 2.0, 4), offset=-0.25)(norm(x))
    outputs = [
        L.LayerNormalization()(scaled), L.LayerNormalization(axis=[1, 2], center=False)(scaled),
        L.LayerNormalization(axis=1, epsilon=0.1, scale=False)(scaled),
        L.GroupNormalization(groups=2)(scaled), L.GroupNormalization(groups=-1, epsilon=1e-5)(scaled),
        L.GroupNormalization(groups=3, axis=1, center=False)(scaled),
        L.UnitNormalization()(scaled), L.UnitNormalization(axis=[1, 2])(scaled),
        L.Normalization(axis=None, mean=2.0, variance=9.0)(x),
        L.Normalization(axis=1, mean=np.arange(6.0), variance=np.linspace(0.5, 3.0, 6), invert=True)(x),
        L.Rescaling(1 / 255)(x)]
    model = perturbed(tr.Model(x, outputs))
    assert_exports_faithfully(model, tmp_path, [(6, 4)])
    with pytest.warns(DeprecationWarning):
        rms = L.LayerNormalization(rms_scaling=True)
    assert_exports_faithfully(perturbed(tr.Sequential([L.Input((5,)), rms])), tmp_path, [(5,)])


def test_every_activation_and_layer_class_has_an_onnx_form():
    assert sorted(ACTIVATIONS) == sorted(row.name for row in TABLE)
    # Lambda: Python code; Masking: its mask has no exact form; the cells: exported inside their RNN layer
    no_onnx_form = {"Lambda", "Masking", "SimpleRNNCell", "LSTMCell", "GRUCell"}
    assert sorted(cls.__name__ for cls in NO_ONNX_FORM) == sorted(no_onnx_form)
    assert sorted(set(L.LAYER_CLASSES) - no_onnx_form) == sorted(cls.__name__ for cls in CONVERTERS)


def test_float64_models_and_opset_18(tmp_path):
    x = tr.Input((5, 6), dtype="float64")  # (onnxruntime's CPU provider has no float64 Conv or Erf)
    h = L.Dense(3, dtype="float64", activation="tanh")(x)
    h = L.BatchNormalization(dtype="float64")(L.Flatten(dtype="float64")(h))
    model = tr.Model(x, L.Dense(2, dtype="float64")(h))
    path = assert_exports_faithfully(model, tmp_path, [(5, 6)])
    assert onnx.load(str(path)).graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    model32 = tr.Sequential([L.Input((6, 3)), L.Conv1D(4, 3), L.GlobalMaxPooling1D(), L.Dense(2)])
    path = assert_exports_faithfully(model32, tmp_path, [(6, 3)], opset_version=18)
    assert onnx.load(str(path)).opset_import[0].version == 18


def test_a_layer_without_an_onnx_form_is_named(tmp_path):
    @saving.register_keras_serializable(package="test_onnx")
    class Twice(L.Layer):
        def call(self, x):
            return x * 2.0

    model = tr.Sequential([L.Input((3,)), L.Dense(4, name="first"), Twice(name="twice")])
    with pytest.raises(ExportError, match=r"layer 'twice' \(Twice\) has no ONNX form"):
        model.export(tmp_path / "m.onnx", format="onnx")
    assert not (tmp_path / "m.onnx").exists()
    lam = tr.Sequential([L.Input((3,)), L.Lambda(lambda v: v + 1.0, name="plus_one")])
    with pytest.raises(ExportError, match=r"layer 'plus_one' \(Lambda\) has no ONNX form"):
        to_onnx(lam)

    def custom(v):
        return v * 3.0
    own = tr.Sequential([L.Input((3,)), L.Dense(2, activation=custom, name="odd")])
    with pytest.raises(ExportError, match=r"layer 'odd' \(Dense\): its activation .* has no ONNX form"):
        to_onnx(own)
    assert activations.get("relu") is activations.relu


def test_subclassed_models_and_wrong_arguments_are_refused(tmp_path, monkeypatch):
    class Net(tr.Model):
        def __init__(self):
            super().__init__()
            self.dense = L.Dense(2)

        def call(self, x):
            return self.dense(x)

    net = Net()
    net(np.zeros((1, 3), np.float32))
    with pytest.raises(ExportError, match="subclassed model"):
        net.export(tmp_path / "n.onnx", format="onnx")
    model = residual()
    with pytest.raises(NotImplementedError, match="format='tf_saved_model' is not supported; use format='onnx'"):
        model.export(tmp_path / "m")
    with pytest.raises(ValueError, match="opset_version must be an int from 17"):
        model.export(tmp_path / "m.onnx", format="onnx", opset_version=11)
    with pytest.raises(NotImplementedError, match="input_signature"):
        model.export(tmp_path / "m.onnx", format="onnx", input_signature=[(None, 12)])
    monkeypatch.setitem(__import__("sys").modules, "onnx", None)
    with pytest.raises(ImportError, match=r'pip install "tinygrad_relu\[onnx\]"'):
        model.export(tmp_path / "m.onnx", format="onnx")
