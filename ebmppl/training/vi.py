"""Variational (adversarial) training with a trainable sampler q.

For any q, log Z(θ) ≥ E_q[−E_θ(x)] + H(q) =: L(θ, q). Substituting the
bound into the negative log-likelihood gives the minimax game of
Kim & Bengio (2016) / Dai et al. (2019): the EBM minimizes
E_data[E_θ] − E_q[E_θ] (samples from q held fixed), and q maximizes L,
i.e. minimizes E_q[E_θ + log q] (θ held fixed). Both moves are one loss
with stop-gradients, so each optimizer step updates both. q is a Gaussian
with a learned mean and Cholesky factor (``q="gaussian"``) or a normalizing
flow (``q="flow"``, NumPyro's inverse autoregressive transforms). The bound
L is reported as a lower estimate of log Z.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import transforms as T
from numpyro.distributions.flows import InverseAutoregressiveTransform
from numpyro.nn import AutoregressiveNN

from ..errors import EbmError
from .objective import Objective
from .nce import gaussian_noise


class Flow:
    """A standard normal pushed through IAF layers (with reversing permutations) and an affine map."""

    def __init__(self, dim: int, layers: int, hidden: int, loc, scale_tril):
        if dim < 2 and layers > 0:
            layers = 0  # an autoregressive network needs two or more inputs
        self.dim, self.layers = dim, layers
        self.loc, self.scale_tril = jnp.asarray(loc), jnp.asarray(scale_tril)
        self.nets = [AutoregressiveNN(dim, [hidden, hidden], permutation=np.arange(dim), skip_connections=False,
                                      nonlinearity=_elu()) for _ in range(layers)]
        self.like = jax.eval_shape(lambda: self.init(jax.random.PRNGKey(0)))

    def init(self, key):
        keys = jax.random.split(key, max(1, self.layers))
        params = []
        for k, (init_fn, _) in zip(keys, self.nets):
            _, p = init_fn(k, (self.dim,))
            # start near the identity: shrink the last layer
            p = jax.tree_util.tree_map(lambda a: a * 0.01, p)
            params.append(p)
        return params

    def transforms(self, params):
        ts = []
        for (_, apply_fn), p in zip(self.nets, params):
            ts.append(InverseAutoregressiveTransform(lambda x, p=p, f=apply_fn: f(p, x)))
            ts.append(T.PermuteTransform(jnp.arange(self.dim)[::-1]))
        ts.append(T.LowerCholeskyAffine(self.loc, self.scale_tril))
        return ts

    def base(self):
        return dist.Normal(jnp.zeros(self.dim), 1.0).to_event(1)

    def sample_and_log_prob(self, params, key, n):
        z = self.base().sample(key, (n,))
        logq = self.base().log_prob(z)
        x = z
        for t in self.transforms(params):
            y = t(x)
            logq = logq - _sum_event(t.log_abs_det_jacobian(x, y), t)
            x = y
        return x, logq

    def log_prob(self, params, x):
        return dist.TransformedDistribution(self.base(), self.transforms(params)).log_prob(x)


def _sum_event(ladj, t):
    return ladj if jnp.ndim(ladj) == 1 else jnp.sum(ladj, axis=-1)


def _elu():
    from jax.example_libraries import stax
    return stax.Elu


class GaussianQ:
    """q = N(loc, L Lᵀ) with a trainable loc and lower-triangular L (positive diagonal)."""

    def __init__(self, loc, scale_tril):
        self.dim = loc.shape[0]
        self.loc0, self.tril0 = jnp.asarray(loc), jnp.asarray(scale_tril)
        self.like = jax.eval_shape(lambda: self.init(jax.random.PRNGKey(0)))

    def init(self, key):
        return {"loc": self.loc0, "tril": T.LowerCholeskyTransform().inv(self.tril0)}

    def dist(self, params):
        return dist.MultivariateNormal(params["loc"], scale_tril=T.LowerCholeskyTransform()(params["tril"]))

    def sample_and_log_prob(self, params, key, n):
        d = self.dist(params)
        x = d.rsample(key, (n,))
        return x, d.log_prob(x)


def vi_objective(problem, data, q: str = "flow", n_samples=None, flow_layers: int = 2, hidden: int = 32,
                 q_steps: int = 5, alpha: float = 0.1):
    """``q_steps`` sampler updates per EBM update; ``alpha`` adds α(E_data² + E_q²) against energy runaway."""
    problem.require_real("vi")
    flat = jax.vmap(problem.flatten)(data)
    fit0 = gaussian_noise(flat)
    if q == "gaussian":
        sampler = GaussianQ(fit0.loc, fit0.scale_tril)
    elif q == "flow":
        sampler = Flow(flat.shape[1], flow_layers, hidden, fit0.loc, fit0.scale_tril)
    else:
        raise EbmError("fit", f"unknown q '{q}' for vi", hint="choose 'gaussian' or 'flow'")
    sg = jax.lax.stop_gradient

    def init_extra(key):
        return {"@q": sampler.init(key)}

    def loss(params, batch, key, state):
        xd = jax.vmap(problem.flatten)(batch)
        m = int(n_samples or xd.shape[0])
        xq, logq = sampler.sample_and_log_prob(params["@q"], key, m)
        e_data = jax.vmap(lambda v: problem.flat_energy(params, v))(xd)
        e_q_fixed = jax.vmap(lambda v: problem.flat_energy(params, v))(sg(xq))
        frozen = jax.tree_util.tree_map(sg, {k: v for k, v in params.items() if k != "@q"})
        e_q_for_q = jax.vmap(lambda v: problem.flat_energy(frozen, v))(xq)
        ebm_part = jnp.mean(e_data) - jnp.mean(e_q_fixed)
        if alpha:
            ebm_part = ebm_part + alpha * (jnp.mean(e_data ** 2) + jnp.mean(e_q_fixed ** 2))
        q_part = jnp.mean(e_q_for_q + logq)
        bound = -jnp.mean(sg(e_q_for_q) + sg(logq))  # lower bound on log Z
        return ebm_part + q_part, (state, {"logz_bound": bound})
    like = problem.unconstrain(problem.model.init_params(0))

    def groups(t):
        ebm_turn = (t % (int(q_steps) + 1) == 0).astype(flat.dtype)
        return {"model": jax.tree_util.tree_map(lambda _: ebm_turn, like),
                "extra": {"@q": jax.tree_util.tree_map(lambda _: 1.0 - ebm_turn, sampler.like)}}
    return Objective(loss, init_extra, None, groups if q_steps else None)


__all__ = ["vi_objective", "Flow", "GaussianQ"]
