"""Assignment 4b: the ResNet18 is flat and the right size, Grad-CAM finds evidence where it was put (on the
backend this run uses: CI runs the suite once on TensorFlow and once on JAX), and bad layer names get a clear
error. (Compilation and resuming: tests/test_training.py, for every notebook.)"""
import keras
import numpy as np
import pytest
from keras import layers

from notebooks import exec_tagged, stand_in_data

NAME = "assignment4b_resnet18_gradcam.ipynb"


@pytest.fixture(scope="module")
def ns():
    """The notebook's config, model, training and Grad-CAM cells, on stand-in data."""
    namespace = {"keras": keras, "np": np, **stand_in_data(NAME)}
    return exec_tagged(NAME, "config", "environment", "training-helpers", "model", "train-function", "gradcam",
                       namespace=namespace)


def test_resnet18_is_flat_and_the_right_size(ns):
    model = ns["model"]
    assert not any(isinstance(layer, keras.Model) for layer in model.layers), "nested models hide feature maps"
    assert 11_100_000 < model.count_params() < 11_250_000
    maps = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers}
    assert maps["stem_out"] == (32, 32, 64) and maps["stage1_block2_out"] == (32, 32, 64)
    assert maps["stage2_block1_out"] == (16, 16, 128) and maps["stage3_block1_out"] == (8, 8, 256)
    assert maps["stage4_block2_out"] == (4, 4, 512)
    projections = [layer.name for layer in model.layers if layer.name.endswith("_proj")]
    assert projections == ["stage2_block1_proj", "stage3_block1_proj", "stage4_block1_proj"]


def evidence_model():
    """16x16 grey image -> 2x2/stride-2 'detector' (channel 0 = brightness, channel 1 = darkness) -> ReLU
    -> global average -> logits (class 0 = brightness, class 1 = darkness). All weights fixed by hand, so
    the evidence for class 0 is exactly where the image is bright."""
    inputs = keras.Input((16, 16, 1))
    x = layers.Conv2D(2, 2, strides=2, use_bias=False, name="detector")(inputs)
    x = layers.ReLU(name="detector_out")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    logits = layers.Dense(2, use_bias=False, name="logits")(x)
    outputs = layers.Softmax(name="probabilities")(logits)
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((2, 2, 1, 2), "float32")
    kernel[..., 0], kernel[..., 1] = 0.25, -0.25
    model.get_layer("detector").set_weights([kernel])
    model.get_layer("logits").set_weights([np.eye(2, dtype="float32")])
    return model


@pytest.mark.parametrize("corner", ["top-left", "bottom-right"])
def test_gradcam_lights_up_the_evidence_and_nothing_else(ns, corner):
    image = np.full((1, 16, 16, 1), -1.0, "float32")  # dark everywhere: evidence for class 1 ...
    rows, cols = (slice(0, 6), slice(0, 6)) if corner == "top-left" else (slice(10, 16), slice(10, 16))
    image[0, rows, cols] = 1.0                           # ... except one bright patch: evidence for class 0
    heatmaps, explained = ns["grad_cam"](evidence_model(), image, "detector_out", class_indices=np.array([0]))
    cam = heatmaps[0]
    assert cam.shape == (16, 16) and int(explained[0]) == 0
    inside = np.zeros((16, 16), bool)
    inside[rows, cols] = True
    assert cam[inside].mean() > 0.6, f"the bright patch must light up: {cam[inside].mean():.2f}"
    far = np.zeros((16, 16), bool)  # the quarter of the image opposite the patch
    quarter = slice(8, 16) if corner == "top-left" else slice(0, 8)
    far[quarter, quarter] = True
    assert cam[far].max() < 0.05, f"the far quarter holds no evidence: {cam[far].max():.2f}"
    # The other class's evidence is everywhere but the patch.
    heatmaps, _ = ns["grad_cam"](evidence_model(), image, "detector_out", class_indices=np.array([1]))
    assert heatmaps[0][far].mean() > 0.9 and heatmaps[0][inside].mean() < heatmaps[0][far].mean() / 2


def test_gradcam_explains_each_image_of_a_batch_on_its_own(ns):
    """As the notebook calls it, with a batch: every image's heatmap is its own, normalised to its own maximum,
    in its own orientation. The patches sit off the diagonal (a transposed heatmap puts them in the wrong corner)
    and differ in brightness (a normalisation over the whole batch leaves the dim one's maximum far below 1)."""
    corners = {"top-right": (slice(0, 6), slice(10, 16)), "bottom-left": (slice(10, 16), slice(0, 6)),
               "top-left": (slice(0, 6), slice(0, 6))}
    images = np.full((3, 16, 16, 1), -1.0, "float32")
    for image, (rows, cols), brightness in zip(images, corners.values(), (1.0, 0.2, 0.6)):
        image[rows, cols] = brightness
    explain = np.array([0, 0, 1])  # the patch (class 0) twice, then the dark rest of the third image (class 1)
    heatmaps, explained = ns["grad_cam"](evidence_model(), images, "detector_out", class_indices=explain)
    assert heatmaps.shape == (3, 16, 16) and list(explained) == [0, 0, 1]
    for k, (corner, (rows, cols)) in enumerate(corners.items()):
        cam, inside = heatmaps[k], np.zeros((16, 16), bool)
        inside[rows, cols] = True
        assert cam.max() == pytest.approx(1.0, abs=0.02), f"image {k} is normalised to its own maximum: {cam.max():.2f}"
        if explain[k] == 0:
            assert cam[inside].mean() > 0.6 and cam[~inside].max() < 0.6, f"image {k}: its {corner} patch lights up"
            opposite = np.zeros((16, 16), bool)
            opposite[cols, rows] = True  # where a transposed heatmap would put the patch
            assert cam[opposite].max() < 0.05, f"image {k}: nothing in the mirrored corner {cam[opposite].max():.2f}"
        else:
            assert cam[inside].mean() < 0.2 and cam[~inside].mean() > 0.7, f"image {k}: everything but the patch"


def test_gradcam_defaults_to_the_predicted_class(ns):
    image = np.full((1, 16, 16, 1), -1.0, "float32")  # all dark: the model predicts class 1
    _, explained = ns["grad_cam"](evidence_model(), image, "detector_out")
    assert int(explained[0]) == 1


@pytest.mark.parametrize("layer,message", [
    ("nope", "the model has no layer named 'nope'"),
    ("gap", "not a feature map"),
    ("logits", "not a feature map"),
])
def test_gradcam_bad_layer_lists_the_usable_ones(ns, layer, message):
    with pytest.raises(ValueError) as e:
        ns["grad_cam"](evidence_model(), np.zeros((1, 16, 16, 1), "float32"), layer)
    assert message in str(e.value)
    assert "Layers it can use: detector, detector_out" in str(e.value)


def test_gradcam_refuses_a_layer_inside_a_residual_block(ns):
    inputs = keras.Input((8, 8, 1))
    a = layers.Conv2D(2, 3, padding="same", name="a")(inputs)
    b = layers.Conv2D(2, 3, padding="same", name="inner")(a)
    y = layers.Add(name="block_out")([a, b])
    logits = layers.Dense(2, name="logits")(layers.GlobalAveragePooling2D()(y))
    model = keras.Model(inputs, logits)
    with pytest.raises(ValueError) as e:
        ns["grad_cam"](model, np.zeros((1, 8, 8, 1), "float32"), "inner")
    assert "bypassed by another path" in str(e.value) and "Layers it can use: a, block_out" in str(e.value)
    assert ns["gradcam_layers"](model) == ["a", "block_out"]


def test_resnet18_gradcam_layers(ns):
    usable = ns["gradcam_layers"](ns["model"])
    assert "stage4_block2_out" in usable and "stem_out" in usable
    assert "stage4_block2_conv1" not in usable, "inside a block: the shortcut bypasses it"


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_augmentation_runs_under_every_dtype_policy(policy):
    """The notebook picks mixed_float16 on a GPU, mixed_bfloat16 on some CPUs, float32 elsewhere; its
    augmentation layers, built under that policy, must run in the tf.data pipeline under each (RandomErasing
    in float16 builds a half-precision range that TensorFlow has no kernel for)."""
    import tensorflow as tf

    keras.config.set_dtype_policy(policy)
    try:
        ns = exec_tagged(NAME, "config", "train-function", namespace={"keras": keras, "np": np, "layers": layers,
                                                                    **stand_in_data(NAME)})
        batch = ns["X_train"][:8], ns["Y_train"][:8]
        images, _ = next(iter(tf.data.Dataset.from_tensors(batch).map(ns["augment"])))
    finally:
        keras.config.set_dtype_policy("float32")
    assert images.dtype == tf.float32 and images.shape == (8, 32, 32, 3)
    assert not np.array_equal(images.numpy(), batch[0]), "augmented"
