"""Deep belief nets by greedy layer-wise stacking of RBMs (Hinton, Osindero & Teh, 2006).

Layer 1 is an RBM fitted to the data; layer k+1 is an RBM fitted to layer k's hidden activations
p(h = 1 | v) (or samples of them). Every layer is an ordinary ebmppl model built from the `.ebm`
text below and trained by :func:`ebmppl.fit`; the top RBM is sampled by :func:`ebmppl.sample`
(block Gibbs) and its samples are carried down through p(v | h) of the lower layers, which makes
the stack a generative model: an RBM on top of a directed sigmoid belief net.

The conditionals are read off the energy: for an RBM, E is affine in each layer given the other
and has no connections within a layer, so p(h_j = 1 | v) = sigmoid(−∂E/∂h_j) and
p(v_i = 1 | h) = sigmoid(−∂E/∂v_i), whatever values the differentiated layer holds.

Example:
    >>> x = np.loadtxt("examples/data/digits_binarized.csv", delimiter=",", skiprows=1)
    >>> net = ebmppl.dbn.stack(x, layers=[16, 8], steps=500)
    >>> net.sample(16).shape
    (16, 64)
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from .settings import float_dtype
from .errors import EbmError

__all__ = ["RBM", "rbm", "Layer", "DBN", "stack"]

RBM = """\
# a binary restricted Boltzmann machine; h is summed out analytically
const n_visible : int
const n_hidden : int
var    v : binary[n_visible]
latent h : binary[n_hidden]
param  W : real[n_visible, n_hidden] ~ normal(0, 0.01)
param  b : real[n_visible] = 0
param  c : real[n_hidden] = 0
factor rbm = -(v @ W @ h) - b @ v - c @ h
"""


def rbm(n_visible: int, n_hidden: int):
    """A binary RBM with ``n_visible`` visible and ``n_hidden`` hidden units (the :data:`RBM` text, bound)."""
    from .model.source import parse
    return parse(RBM, name="<rbm>", data={"n_visible": int(n_visible), "n_hidden": int(n_hidden)})


def _conditional(model, params, given: str, values, of: str, size: int):
    """p(of = 1 | given = values) for every row: sigmoid(−∂E/∂of), exact for an RBM's layers."""
    zero = jnp.zeros((size,), float_dtype())

    def one(x):
        g = jax.grad(lambda y: model.energy(params, {given: x, of: y}))(zero)
        return jax.nn.sigmoid(-g)
    return np.asarray(jax.jit(jax.vmap(one))(jnp.asarray(values, float_dtype())))


class Layer(NamedTuple):
    """One fitted RBM of a stack: its model, params, fit result and the inputs it was trained on."""

    model: object
    params: dict
    fit: object  # ebmppl.FitResult
    inputs: np.ndarray  # (rows, n_visible): the data (layer 1) or the layer below's activations

    @property
    def sizes(self) -> tuple[int, int]:
        return tuple(self.params["W"].shape)

    def up(self, v) -> np.ndarray:
        """p(h = 1 | v) for every row of ``v``."""
        return _conditional(self.model, self.params, "v", v, "h", self.sizes[1])

    def down(self, h) -> np.ndarray:
        """p(v = 1 | h) for every row of ``h``."""
        return _conditional(self.model, self.params, "h", h, "v", self.sizes[0])

    def free_energy(self, v) -> np.ndarray:
        """F(v) = −log Σ_h exp(−E(v, h)) for every row (h summed out analytically)."""
        f = jax.jit(jax.vmap(lambda x: self.model.free_energy(self.params, {"v": x})))
        return np.asarray(f(jnp.asarray(v, float_dtype())))


class DBN(NamedTuple):
    """A stack of fitted RBMs, bottom first."""

    layers: tuple[Layer, ...]

    def up(self, v) -> list[np.ndarray]:
        """The activations p(h = 1 | ·) of every layer, propagated up from data ``v`` (means, bottom first)."""
        out = []
        for layer in self.layers:
            v = layer.up(v)
            out.append(v)
        return out

    def free_energies(self, v) -> list[np.ndarray]:
        """Each layer's free energy of its input: F_1(v), F_2(p(h_1 | v)), … (one array of rows a layer)."""
        inputs = [np.asarray(v)] + self.up(v)[:-1]
        return [layer.free_energy(x) for layer, x in zip(self.layers, inputs)]

    def sample(self, n: int, key=0, sweeps: int = 1000, mean: bool = True) -> np.ndarray:
        """``n`` samples of the visible layer: :meth:`sample_top`, then :meth:`down`."""
        rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
        k_top, k_down = jax.random.split(rng)
        return self.down(self.sample_top(n, k_top, sweeps), k_down, mean)

    def sample_top(self, n: int, key=0, sweeps: int = 1000) -> np.ndarray:
        """``n`` draws of the top RBM's visible layer: block Gibbs by :func:`ebmppl.sample`, one chain a
        draw, each after ``sweeps`` sweeps."""
        from .infer.sample import sample
        top = self.layers[-1]
        with warnings.catch_warnings():  # one draw from each of n chains: ArviZ warns about the layout
            warnings.filterwarnings("ignore", message="More chains")
            idata = sample(top.model, top.params, sampler="gibbs", chains=int(n), draws=1, warmup=int(sweeps),
                           key=key, progress=False, verbose=False)
        return np.asarray(idata.posterior["v"]).reshape(int(n), top.sizes[0])

    def down(self, h, key=0, mean: bool = True) -> np.ndarray:
        """Carry the top RBM's visible states ``h`` down through p(v | h) of the lower layers, with binary
        draws between layers; ``mean=True`` returns the bottom layer's probabilities, else binary draws."""
        rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
        x = np.asarray(h)
        for i, layer in enumerate(reversed(self.layers[:-1])):
            p = layer.down(x)
            if i == len(self.layers) - 2 and mean:
                return p
            x = np.asarray(jax.random.bernoulli(jax.random.fold_in(rng, i), p)).astype(p.dtype)
        return x


def stack(data, layers: Sequence[int] = (16, 8), method: str = "pcd", steps: int = 1000, key=0,
          activations: str = "probs", **fit_options) -> DBN:
    """Greedy layer-wise training of a deep belief net: one RBM a layer, each fitted to the last one's activations.

    Args:
        data: binary rows, an array (rows, n_visible), a dict ``{"v": array}`` or a CSV / NPZ path
            with columns ``v[0], v[1], …``.
        layers: the hidden sizes, bottom first.
        method, steps, key, **fit_options: passed to :func:`ebmppl.fit` for every layer (``key`` is
            offset by the layer's index), e.g. ``batch_size``, ``lr``, ``optimizer``, ``average``.
        activations: what the next layer is trained on: ``"probs"`` (p(h = 1 | v), Hinton's recipe)
            or ``"samples"`` (binary draws from it).

    Returns:
        a :class:`DBN`; ``net.layers[k]`` holds the k-th RBM's model, params, fit result and inputs.
    """
    from .training import fit
    if activations not in ("probs", "samples"):
        raise EbmError("fit", f"activations must be 'probs' or 'samples', got '{activations}'")
    if not layers:
        raise EbmError("fit", "a deep belief net needs at least one hidden layer")
    x = _visible_rows(data)
    seed = key if isinstance(key, int) else int(jax.random.randint(key, (), 0, 2 ** 30))
    out = []
    for i, n_hidden in enumerate(layers):
        model = rbm(x.shape[1], n_hidden)
        res = fit(model, {"v": x}, method=method, steps=steps, key=seed + i, **{"progress": False, **fit_options})
        layer = Layer(model, res.params, res, x)
        out.append(layer)
        p = layer.up(x)
        x = p if activations == "probs" else \
            np.asarray(jax.random.bernoulli(jax.random.PRNGKey(seed + 1000 + i), p)).astype(p.dtype)
    return DBN(tuple(out))


def _visible_rows(data) -> np.ndarray:
    if isinstance(data, dict):
        data = data["v"]
    elif isinstance(data, (str, Path)):
        from .io import read_data
        if str(data).endswith(".npz"):
            with np.load(data, allow_pickle=False) as f:
                data = f["v"]
        else:
            with open(data, encoding="utf-8") as f:
                columns = [c for c in f.readline().strip().split(",") if c.startswith("v[")]
            data = read_data(data, rbm(len(columns), 1))["v"]
    x = np.asarray(data, dtype=float)
    if x.ndim != 2 or not np.all((x >= 0) & (x <= 1)):
        raise EbmError("fit", "a deep belief net's data are rows of values in [0, 1] (binary units)")
    return x
