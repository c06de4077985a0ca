"""Assignment 3: our network obeys the rules (only SeparableConv2D and BatchNormalization carry weights, the
classifier is separable, fewer than 100,000 parameters), the base network is the course's, and the output
sizes and receptive fields written beside each layer of the model cell are the ones layer_table computes.
(Compilation and resuming: tests/test_training.py, for every notebook.)"""
import re

import keras
import numpy as np
import pytest

from notebooks import exec_tagged, load, source, stand_in_data, tagged

NAME = "assignment3_cifar_separable.ipynb"
# "...(name="block2")(...)   # output 16x16x64, RF 12": the layer (its name=, else the first quoted name on
# the line, as in sep_bn_relu(x, 64, "block2a")) and the comment's output size and receptive field.
COMMENT = re.compile(r'#\s*output\s+([\dx]+),\s*RF\s+(\d+)\s*$')


@pytest.fixture(scope="module")
def ns():
    """The notebook's config, helpers, precision, base and our model, on stand-in data."""
    namespace = {"keras": keras, "np": np, **stand_in_data(NAME)}
    return exec_tagged(NAME, "config", "environment", "training-helpers", "precision", "base-model", "model",
                       "layer-table", "train-function", namespace=namespace)


def written_table(text):
    """{layer name: (output shape, RF)} from the comments of the model cell."""
    rows = {}
    for line in text.splitlines():
        match = COMMENT.search(line)
        if match:
            name = (re.search(r'name="(\w+)"', line) or re.search(r'"(\w+)"', line)).group(1)
            shape, rf = match.groups()
            rows[name] = (tuple(int(s) for s in shape.split("x")), int(rf))
    return rows


def computed_table(ns, model):
    rows = {row["name"]: (row["output"], row["rf"]) for row in ns["layer_table"](model)}
    rows[model.inputs[0]._keras_history.operation.name] = (tuple(model.inputs[0].shape[1:]), 1)
    return rows


def test_only_separable_convolutions_and_batch_norm_carry_weights(ns):
    model = ns["model"]
    weighted = {type(layer).__name__ for layer in model.layers if layer.weights}
    assert weighted == {"SeparableConv2D", "BatchNormalization"}, weighted
    assert all(not layer.weights for layer in model.layers
               if not isinstance(layer, (keras.layers.SeparableConv2D, keras.layers.BatchNormalization)))
    assert isinstance(model.get_layer("classifier"), keras.layers.SeparableConv2D)
    assert model.count_params() < 100_000
    assert any(isinstance(layer, keras.layers.Dropout) and 0 < layer.rate < 1 for layer in model.layers)
    assert model.output.shape[1:] == (10,)


def test_base_network_is_the_course_s(ns):
    base = ns["base"]
    assert base.count_params() == 1_172_410
    convs = [layer for layer in base.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.padding) for c in convs] == [(48, "same"), (48, "valid"), (96, "same"), (96, "valid"),
                                                         (192, "same"), (192, "valid")]
    assert [layer.rate for layer in base.layers if isinstance(layer, keras.layers.Dropout)] == [0.25] * 3 + [0.5] * 2


def test_written_output_sizes_and_receptive_fields_are_the_computed_ones(ns):
    written = written_table(source(tagged(load(NAME), "model")))
    computed = computed_table(ns, ns["model"])
    assert len(written) >= 15, f"the model cell states output and RF for every layer; found {len(written)}"
    for name, value in written.items():
        assert name in computed, f"the model cell names a layer the model does not have: {name}"
        assert value == computed[name], f"{name}: written {value}, computed {computed[name]}"
    # Every layer has its line, except those inside sep_bn_relu (conv and BN; its ReLU carries the name).
    unwritten = [name for name in computed if name not in written and not re.search(r"_(conv|bn)$", name)]
    assert not unwritten, f"layers without their output size and RF in the model cell: {unwritten}"


def test_a_wrong_written_value_is_caught(ns):
    """The comparison above can fail: change one written RF and it reports the layer."""
    text = source(tagged(load(NAME), "model")).replace("RF 12", "RF 13", 1)
    written, computed = written_table(text), computed_table(ns, ns["model"])
    assert [name for name, value in written.items() if value != computed[name]] == ["block2b"]


def test_both_models_build_in_their_precision(ns):
    assert ns["base"].layers[0].dtype_policy.name == ns["base_policy"]
    assert ns["model"].get_layer("block1_conv").dtype_policy.name == ns["our_policy"]
    assert keras.config.dtype_policy().name == "float32", "the global policy is restored after building"


def test_batch_norm_scales_and_offsets_are_not_decayed(ns):
    """compile_for_training decays the convolution weights, not batch normalization's scales and offsets. With
    zero gradients AdamW moves a variable by its weight decay alone: the kernel shrinks, gamma and beta stay."""
    model = ns["build_model"]()
    ns["compile_for_training"](model, 1, 128)
    bn, conv = model.get_layer("block2a_bn"), model.get_layer("block2a_conv")
    variables = [bn.gamma, bn.beta, conv.pointwise_kernel]
    for variable in variables:
        variable.assign(np.full(variable.shape, 0.5, "float32"))
    model.optimizer.apply_gradients([(np.zeros(v.shape, "float32"), v) for v in variables])
    gamma, beta, kernel = (keras.ops.convert_to_numpy(v) for v in variables)
    assert np.all(gamma == 0.5) and np.all(beta == 0.5), "batch normalization's scale or offset was decayed"
    assert np.all(kernel < 0.5), "the convolution's weights were not decayed"
