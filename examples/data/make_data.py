"""Regenerate the small example data sets bundled in ``examples/data/``.

Run from the repository root::

    python examples/data/make_data.py

The output is deterministic: every random draw uses a fixed seed.

Files written (each atomically: a temporary file in this directory, then
``os.replace``):

* ``digits_binarized.csv`` / ``digits_labels.csv`` -- scikit-learn's bundled
  copy of the test set of the UCI "Optical Recognition of Handwritten Digits"
  data set (1797 8x8 images, pixel values 0..16; E. Alpaydin and C. Kaynak,
  https://doi.org/10.24432/C50P49, licensed CC BY 4.0), binarized with
  ``pixel >= 8 -> 1`` else ``0``.
* ``ring.csv`` -- 2000 noisy points near the unit circle (seed 0).
* ``gaussian.csv`` -- 2000 draws from a correlated 2-D normal (seed 1).
* ``moons.csv`` -- 1000 points of ``sklearn.datasets.make_moons`` (seed 2).
"""

import io
import os
import tempfile

import numpy as np
from sklearn.datasets import load_digits, make_moons

DATA_DIR = os.path.dirname(os.path.abspath(__file__))


def write_csv(name, array, header, fmt):
    """Write ``array`` as CSV to ``DATA_DIR/name`` atomically."""
    buf = io.StringIO()
    np.savetxt(buf, array, fmt=fmt, delimiter=",", header=header, comments="")
    path = os.path.join(DATA_DIR, name)
    fd, tmp = tempfile.mkstemp(dir=DATA_DIR, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            f.write(buf.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def make_digits():
    """Binarized 8x8 digit images (pixel >= 8 -> 1) and their class labels."""
    digits = load_digits()
    pixels = (digits.data >= 8).astype(np.int64)
    header = ",".join(f"v[{i}]" for i in range(pixels.shape[1]))
    write_csv("digits_binarized.csv", pixels, header, "%d")
    write_csv("digits_labels.csv", digits.target, "label", "%d")


def make_ring(n=2000, seed=0):
    """Points near a ring of radius 1: radius ~ 1 + 0.1 * N(0, 1)."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n)
    radius = 1.0 + 0.1 * rng.standard_normal(n)
    points = np.column_stack([radius * np.cos(angle), radius * np.sin(angle)])
    write_csv("ring.csv", points, "x[0],x[1]", "%.6f")


def make_gaussian(n=2000, seed=1):
    """Draws from N(mean=[1, -0.5], cov=[[1, 0.6], [0.6, 2]])."""
    rng = np.random.default_rng(seed)
    mean = np.array([1.0, -0.5])
    cov = np.array([[1.0, 0.6], [0.6, 2.0]])
    points = rng.multivariate_normal(mean, cov, size=n)
    write_csv("gaussian.csv", points, "x[0],x[1]", "%.6f")


def make_two_moons(n=1000, seed=2):
    """Two interleaving half circles with class labels 0/1."""
    points, labels = make_moons(n_samples=n, noise=0.08, random_state=seed)
    table = np.column_stack([points, labels])
    write_csv("moons.csv", table, "x[0],x[1],label", ["%.6f", "%.6f", "%d"])


def main():
    make_digits()
    make_ring()
    make_gaussian()
    make_two_moons()


if __name__ == "__main__":
    main()
