"""Noise-contrastive estimation (Gutmann & Hyvärinen, 2010) with log Z learned as a parameter.

The model's log density is −E(x) − log Z with log Z trained alongside the
params; a logistic classifier separates data from ν times as many noise draws:

    J = −E_data[log σ(G(x))] − ν E_noise[log σ(−G(x))],  G(x) = −E(x) − log Z − log ν − log q(x).

The noise q defaults to a Gaussian fitted to the data (mean and covariance);
any ``numpyro.distributions`` distribution over the flattened variables may be
passed instead.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from ..errors import EbmError
from .objective import Objective


def gaussian_noise(flat_data):
    """A multivariate normal with the data's mean and (slightly regularized) covariance."""
    mean = jnp.mean(flat_data, axis=0)
    cov = jnp.atleast_2d(jnp.cov(flat_data, rowvar=False)) + 1e-6 * jnp.eye(flat_data.shape[1])
    return dist.MultivariateNormal(mean, covariance_matrix=cov)


def nce_objective(problem, data, noise=None, nu: float = 1.0, logz_init=None) -> Objective:
    problem.require_real("nce")
    flat = jax.vmap(problem.flatten)(data)
    q = noise if noise is not None else gaussian_noise(flat)
    if not isinstance(q, dist.Distribution):
        raise EbmError("fit", "noise must be a numpyro.distributions distribution over the flattened variables")
    if tuple(q.event_shape) not in ((flat.shape[1],),) and not (flat.shape[1] == 1 and q.event_shape == ()):
        raise EbmError("fit", f"the noise distribution's event shape {tuple(q.event_shape)} does not match the "
                              f"data's {flat.shape[1]} flattened values")
    nu = float(nu)
    if not nu > 0:
        raise EbmError("fit", "the noise ratio nu must be positive")

    def log_q(v):
        return q.log_prob(v if q.event_shape != () else v[..., 0])

    def init_extra(key):
        return {"@logz": jnp.asarray(0.0 if logz_init is None else logz_init, flat.dtype)}

    def draw(key, rows):
        """One step's noise draws: ν times the batch's rows from q (the loop draws a block of steps at once)."""
        m = max(1, int(round(nu * rows)))
        return q.sample(key, (m,)).reshape(m, -1)

    def loss(params, batch, xn, state):
        xd = jax.vmap(problem.flatten)(batch)
        xn = xn.astype(xd.dtype)
        logz = params["@logz"]

        def g(v):
            return -problem.flat_energy(params, v) - logz - jnp.log(nu) - log_q(v)
        gs = jax.vmap(g)(jnp.concatenate([xd, xn]))  # data and noise in one evaluation (fewer, bigger ops)
        gd, gn = gs[:xd.shape[0]], gs[xd.shape[0]:]
        value = -jnp.mean(jax.nn.log_sigmoid(gd)) - nu * jnp.mean(jax.nn.log_sigmoid(-gn))
        return value, (state, {"logz": logz})
    return Objective(loss, init_extra, draw=draw)
