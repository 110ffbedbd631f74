"""Score matching: exact (Hyvärinen 2005), sliced (Song et al. 2019) and denoising (Vincent 2011).

With s(x) = ∇ₓ log p(x) = −∇ₓE(x):

- ``sm``:  J = E[ ½|s(x)|² + tr ∇ₓ s(x) ]; exact Hessian trace (D forward-over-reverse products), cost grows
  with dimension.
- ``ssm``: J = E_v E[ vᵀ(∇ₓ s)v + ½(vᵀs)² ] with random projections v (Rademacher or Gaussian);
  ``variance_reduced=True`` replaces ½(vᵀs)² by its expectation ½|s|². Cost flat in dimension.
- ``dsm``: J = E[ ½ |s(x̃) + (x̃ − x)/σ²|² ], x̃ = x + σε: fits the σ-smoothed density; several σ
  (``sigma=[...]``) average the objective weighted by σ².

Each is an :class:`~ebmppl.training.objective.Objective`: a pure ``loss(params, batch, rand, state) -> (value,
(state, aux))``; ``ssm`` and ``dsm`` also give ``draw(key, rows)``, the random numbers of one step
(projections; noise levels and noise), which the loop draws for a block of steps at once.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .objective import Objective


def sm_loss(problem):
    problem.require_real("sm")

    def one(params, v):
        # tr H by forward-over-reverse: one Hessian-vector product per basis vector, whose primal output is
        # the gradient itself (benchmarks/fitting.py: 2-3.6x faster than grad + jax.hessian at D = 2..64)
        grad_e = jax.grad(lambda v: problem.flat_energy(params, v))
        g, hcols = jax.vmap(lambda u: jax.jvp(grad_e, (v,), (u,)))(jnp.eye(v.shape[-1], dtype=v.dtype))
        return 0.5 * jnp.sum(g[0] ** 2) - jnp.trace(hcols)  # s = -g, tr(∇s) = -tr(H)

    def loss(params, batch, key, state):
        flat = jax.vmap(problem.flatten)(batch)
        return jnp.mean(jax.vmap(lambda v: one(params, v))(flat)), (state, {})
    return Objective(loss)


def ssm_loss(problem, n_projections: int = 1, projection: str = "rademacher", variance_reduced: bool = True):
    problem.require_real("ssm")
    if projection not in ("rademacher", "gaussian"):
        raise ValueError(f"projection must be 'rademacher' or 'gaussian', not {projection!r}")
    n_projections = int(n_projections)
    if n_projections < 1:
        raise ValueError("n_projections must be at least 1")

    dtype = jnp.result_type(float)

    def draw(key, rows):
        """The projections of one step: (rows, n_projections, D), one key per row."""
        def one_row(k):
            if projection == "rademacher":
                return jax.random.rademacher(k, (n_projections, problem.dim), dtype=dtype)
            return jax.random.normal(k, (n_projections, problem.dim), dtype=dtype)
        return jax.vmap(one_row)(jax.random.split(key, rows))

    def one(params, v, p):
        e = lambda v: problem.flat_energy(params, v)  # noqa: E731
        grad_e = jax.grad(e)
        p = p.astype(v.dtype)
        g, hvps = jax.vmap(lambda u: jax.jvp(grad_e, (v,), (u,)))(p)  # g: (P, D), hvps = H u
        quad = jnp.sum(p * hvps, axis=-1)  # uᵀ H u = -uᵀ(∇s)u
        if variance_reduced:
            second = 0.5 * jnp.sum(g[0] ** 2)
        else:
            second = jnp.mean(0.5 * jnp.sum(p * g, axis=-1) ** 2)
        return -jnp.mean(quad) + second

    def loss(params, batch, projections, state):
        flat = jax.vmap(problem.flatten)(batch)
        return jnp.mean(jax.vmap(lambda v, p: one(params, v, p))(flat, projections)), (state, {})
    return Objective(loss, draw=draw)


def dsm_loss(problem, sigma=0.1):
    problem.require_real("dsm")
    sigmas = jnp.atleast_1d(jnp.asarray(sigma, dtype=jnp.result_type(float)))
    if not bool(jnp.all(sigmas > 0)):
        raise ValueError("sigma must be positive")

    def draw(key, rows):
        """One step's (noise-level index, N(0, I) noise) per row, one key per row."""
        def one_row(k):
            k1, k2 = jax.random.split(k)
            return jax.random.randint(k1, (), 0, sigmas.shape[0]), jax.random.normal(k2, (problem.dim,),
                                                                                   sigmas.dtype)
        return jax.vmap(one_row)(jax.random.split(key, rows))

    def one(params, v, level, noise):
        s = sigmas[level].astype(v.dtype)
        noise = noise.astype(v.dtype)
        xt = v + s * noise
        score = -jax.grad(lambda u: problem.flat_energy(params, u))(xt)
        # weighted by sigma^2 so every noise level contributes on the same scale
        return 0.5 * s ** 2 * jnp.sum((score + noise / s) ** 2)

    def loss(params, batch, rand, state):
        flat = jax.vmap(problem.flatten)(batch)
        levels, noise = rand
        return jnp.mean(jax.vmap(lambda v, lv, z: one(params, v, lv, z))(flat, levels, noise)), (state, {})
    return Objective(loss, draw=draw)
