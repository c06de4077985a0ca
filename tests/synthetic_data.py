"""Small synthetic stand-ins for mnist.npz / cifar10.npz, in the exact layout of keras.datasets.

The test-suite never reads the real data sets (../shared may not exist, and CI has no network):
it writes these files to a temporary folder and points the notebooks at it with EIP4_DATA_DIR.
The images are random noise with a class-dependent bright square, so a model can learn a little
from them, but no figure obtained on them means anything.
"""
import os

import numpy as np

# name -> (image shape, label shape per sample); same keys and dtypes as keras.datasets.
LAYOUTS = {
    "mnist": ((28, 28), ()),
    "cifar10": ((32, 32, 3), (1,)),
}


def make_split(name, n, rng):
    image_shape, label_shape = LAYOUTS[name]
    y = rng.integers(0, 10, size=n).astype(np.uint8)
    x = rng.integers(0, 64, size=(n, *image_shape), dtype=np.uint8)
    for i, label in enumerate(y):  # a 6x6 bright patch whose position encodes the class
        r, c = 2 + 2 * (label // 5) * 5, 2 + 4 * (label % 5)
        x[i, r:r + 6, c:c + 6] = 255
    return x, y.reshape((n, *label_shape))


def write_synthetic(folder, n_train=600, n_test=300, seed=0):
    """Write mnist.npz and cifar10.npz into folder; return the folder."""
    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    for name in LAYOUTS:
        x_train, y_train = make_split(name, n_train, rng)
        x_test, y_test = make_split(name, n_test, rng)
        np.savez(os.path.join(folder, f"{name}.npz"),
                 x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return folder
