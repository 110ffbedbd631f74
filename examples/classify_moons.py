"""An energy E(x, y) trained as a classifier on the two moons, then scored on held-out rows.

    .venv/bin/python examples/classify_moons.py [--steps 800]

Fits an MLP energy E(x, y) = -f(x)[y] + |x|^2 / 32 by its exact conditional likelihood
(`method="ce"`) on the first 800 rows of examples/data/moons.csv, then classifies the last 200 with
p(y | x) = softmax_k(-F(x, k)) (`ebmppl.classify`) and prints the held-out accuracy (about 1.0).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import ebmppl

ROOT = Path(__file__).resolve().parents[1]
MODEL = """\
var   x : real[2]
var   y : categorical(2)
param f : mlp(2, [32, 32], 2, act=swish)
factor e = -f(x)[y] + 0.5 * sum(x^2) / 16
"""


def main(argv=None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=800, help="training steps (default 800)")
    args = ap.parse_args(argv)
    d = np.loadtxt(ROOT / "examples" / "data" / "moons.csv", delimiter=",", skiprows=1)  # x[0], x[1], label
    model = ebmppl.parse(MODEL, name="moons")
    res = ebmppl.fit(model, {"x": d[:800, :2], "y": d[:800, 2]}, method="ce", steps=args.steps, batch_size=100,
                     lr=3e-3, progress=False)
    p = ebmppl.classify(model, res.params, {"x": d[800:, :2]})
    accuracy = float((p.argmax(1) == d[800:, 2]).mean())
    print(f"held-out accuracy {accuracy:.3f} on {len(p)} rows")
    return accuracy


if __name__ == "__main__":
    main()
