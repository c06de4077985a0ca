"""The receptive-field / output-size calculator shared by the notebooks, against values worked by hand."""
import keras
import pytest

from notebooks import PRESENT, exec_tagged


@pytest.fixture(scope="module")
def ns():
    return exec_tagged(PRESENT[0], "layer-table", namespace={"keras": keras})


def rows_of(ns, model):
    return [(r["output"], r["params"], r["rf"], r["jump"]) for r in ns["layer_table"](model)]


def test_assignment3_base_network(ns):
    """The course's base network: same/valid padding, 2x2 pooling, a dense head. Hand-worked:
    r grows by 2*j per 3x3 conv and by 1*j per 2x2 pool, j doubles at each pool;
    Flatten only reshapes (36); the Dense layer after it combines the whole 2x2 map: 36 + (2-1)*8 = 44."""
    keras = ns["keras"]
    L = keras.layers
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        L.Conv2D(48, 3, padding="same", activation="relu"), L.Conv2D(48, 3, activation="relu"),
        L.MaxPooling2D(2), L.Dropout(0.25),
        L.Conv2D(96, 3, padding="same", activation="relu"), L.Conv2D(96, 3, activation="relu"),
        L.MaxPooling2D(2), L.Dropout(0.25),
        L.Conv2D(192, 3, padding="same", activation="relu"), L.Conv2D(192, 3, activation="relu"),
        L.MaxPooling2D(2), L.Dropout(0.25),
        L.Flatten(), L.Dense(512, activation="relu"), L.Dropout(0.5),
        L.Dense(256, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax"),
    ])
    assert rows_of(ns, model) == [
        ((32, 32, 48), 1344, 3, 1), ((30, 30, 48), 20784, 5, 1), ((15, 15, 48), 0, 6, 2), ((15, 15, 48), 0, 6, 2),
        ((15, 15, 96), 41568, 10, 2), ((13, 13, 96), 83040, 14, 2), ((6, 6, 96), 0, 16, 4), ((6, 6, 96), 0, 16, 4),
        ((6, 6, 192), 166080, 24, 4), ((4, 4, 192), 331968, 32, 4), ((2, 2, 192), 0, 36, 8), ((2, 2, 192), 0, 36, 8),
        ((768,), 0, 36, 8), ((512,), 393728, 44, 8), ((512,), 0, 44, 8),
        ((256,), 131328, 44, 8), ((256,), 0, 44, 8), ((10,), 2570, 44, 8),
    ]
    assert model.count_params() == 1_172_410  # the figure ASSIGNMENTS.md gives


def test_strides_dilation_separable_and_branches(ns):
    """Stride-2 conv: r 3, j 2. Dilated 3x3 (d=2) after it: r = 3 + 2*2*2 = 11. A separable 5x5: r = 11 + 4*2 = 19.
    A 1x1 shortcut from the stride-2 conv keeps r 3; Add keeps the larger, 19; global pooling over
    the 8x8 map: 19 + 7*2 = 33."""
    keras = ns["keras"]
    L = keras.layers
    x = inp = keras.Input((16, 16, 1))
    a = L.Conv2D(4, 3, strides=2, padding="same", name="s2")(x)
    b = L.Conv2D(4, 3, dilation_rate=2, padding="same", name="dil")(a)
    b = L.SeparableConv2D(4, 5, padding="same", name="sep")(b)
    c = L.Conv2D(4, 1, name="short")(a)
    y = L.Add(name="add")([b, c])
    y = L.GlobalAveragePooling2D(name="gap")(y)
    model = keras.Model(inp, y)
    got = {r["name"]: (r["rf"], r["jump"], r["output"]) for r in ns["layer_table"](model)}
    assert got["s2"] == (3, 2, (8, 8, 4))
    assert got["dil"] == (11, 2, (8, 8, 4))
    assert got["sep"] == (19, 2, (8, 8, 4))
    assert got["short"] == (3, 2, (8, 8, 4))
    assert got["add"] == (19, 2, (8, 8, 4))
    assert got["gap"] == (33, 2, (4,))
