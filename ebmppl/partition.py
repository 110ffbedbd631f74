"""Partition functions: exact enumeration (with analytic sums over binary/spin
variables the energy is affine in).

log Z = log Σ_x exp(−E(x)) over every var and latent. The variables are split
into an enumerated set S and a summed set R such that the energy is affine in
R given S (checked on the jaxpr, as for free energies); then

    Z = Σ_S exp(−E(S, R=0)) Π_r (1 + exp(−g_r))   (binary r; 2 cosh g_r for spin),  g = ∂E/∂R at R = 0,

so a 64×16 RBM costs 2^16 terms, not 2^80.
"""

from __future__ import annotations

import itertools
from typing import NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from .config import float_dtype
from .errors import EbmError
from .model.affine import enumerate_states, is_affine_in, log_sum_affine

__all__ = ["LogZ", "logz", "logz_exact", "logz_quadrature", "logz_ais", "log_likelihood", "log_ratio",
           "anomaly_score", "anomaly_threshold", "denoise", "classify"]

EXACT_LIMIT = 2 ** 24


class LogZ(NamedTuple):
    """An estimate of log Z: value, standard error (0 when exact), method and a description."""

    value: float
    stderr: float
    method: str
    detail: str


def _states(low, spec) -> int:
    k = low.domain_args[spec.name][0] if spec.domain.kind == "categorical" else 2
    return k ** int(np.prod(low.shapes[spec.name], dtype=np.int64))


def plan_exact(model) -> tuple[list, list]:
    """(enumerated specs, analytically summed specs) minimizing the enumerated states."""
    low = model.lowered
    random = list(model.random)
    if not random:
        raise EbmError("logz", "the model has no vars or latents")
    cont = [s for s in random if s.domain.continuous]
    if cont:
        raise EbmError("logz", f"exact enumeration needs discrete variables; '{cont[0].name}' is continuous",
                       cont[0].span, "use method='quadrature' (1-2 dimensions) or 'ais'")
    unbounded = [s for s in random if s.domain.kind == "int"]
    if unbounded:
        raise EbmError("logz", f"'{unbounded[0].name}' is an unbounded int and cannot be enumerated",
                       unbounded[0].span)
    params = model.init_params(0)
    values = low.example_values()
    best = None
    two_state = [s for s in random if s.domain.kind in ("binary", "spin")]
    for r in range(len(two_state), -1, -1):
        for summed in itertools.combinations(two_state, r):
            enum = [s for s in random if s not in summed]
            cost = int(np.prod([_states(low, s) for s in enum], dtype=object)) if enum else 1
            if best is not None and cost >= best[0]:
                continue
            if summed and not is_affine_in(lambda v: low.energy(params, v), values, [s.name for s in summed]):
                continue
            best = (cost, enum, list(summed))
        if best is not None and r and best[0] == 1:
            break
    cost, enum, summed = best
    if cost > EXACT_LIMIT:
        raise EbmError("logz", f"exact enumeration needs {cost:.3g} states (limit 2^24)",
                       hint="use method='ais'")
    return enum, summed


def logz_exact(model, params=None, consts=None, chunk: int = 4096) -> LogZ:
    """log Z by enumeration, summing analytically over variables the energy is affine in."""
    low = model.lowered
    params = params if params is not None else model.init_params(0)
    enum, summed = plan_exact(model)
    configs, total = enumerate_states(enum, low.shapes, low.domain_args)

    def log_term(cfg):
        if not summed:
            return -low.energy(params, cfg, consts)
        return log_sum_affine(lambda r: low.energy(params, {**cfg, **r}, consts), summed, low.shapes)

    if enum:
        terms = jax.jit(lambda c: jax.lax.map(log_term, c, batch_size=min(chunk, total)))(configs)
    else:
        terms = jnp.atleast_1d(jax.jit(log_term)({}))
    value = float(logsumexp(terms))
    detail = (f"enumerated {total} states of {', '.join(s.name for s in enum) or 'nothing'}"
              + (f"; summed {', '.join(s.name for s in summed)} analytically" if summed else ""))
    return LogZ(value, 0.0, "exact", detail)


def log_likelihood(model, params, data: dict, logz: Optional[float] = None) -> np.ndarray:
    """Per-row log p(x) = −F(x) − log Z (free energies sum out latents)."""
    if logz is None:
        logz = logz_exact(model, params).value
    f = jax.jit(jax.vmap(lambda x: model.free_energy(params, x)))
    return -np.asarray(f({k: jnp.asarray(v, float_dtype()) for k, v in data.items()})) - logz


# ------------------------------------------------------------------ quadrature
def logz_quadrature(model, params=None, consts=None, points: int = 801, radius: float = 8.0) -> LogZ:
    """log Z of a 1- or 2-dimensional continuous model on a fine grid of the unconstrained space.

    The integrand is exp(−E(x(u)) + log|dx/du|) over u in [−radius, radius]^d (trapezoid rule);
    the stated error is the difference from the same rule on a grid half as fine.
    """
    from .infer.target import Target
    target = Target(model, params, consts)
    if target.disc or target.dim not in (1, 2):
        raise EbmError("logz", f"quadrature handles 1 or 2 continuous dimensions; this model has {target.dim}"
                               + (" and discrete variables" if target.disc else ""),
                       hint="use method='exact' (discrete) or 'ais'")
    f = jax.jit(jax.vmap(lambda z: target.logdensity(z, {})))

    def rule(n):
        g = np.linspace(-radius, radius, n)
        if target.dim == 1:
            lp = np.asarray(f(jnp.asarray(g[:, None], float_dtype())), np.float64)
            w = np.full(n, g[1] - g[0])
            w[[0, -1]] /= 2
            return float(logsumexp(jnp.asarray(lp + np.log(w))))
        uu, vv = np.meshgrid(g, g, indexing="ij")
        lp = np.asarray(f(jnp.asarray(np.stack([uu.ravel(), vv.ravel()], -1), float_dtype())), np.float64)
        w1 = np.full(n, g[1] - g[0])
        w1[[0, -1]] /= 2
        w = np.outer(w1, w1).ravel()
        return float(logsumexp(jnp.asarray(lp + np.log(w))))

    fine, coarse = rule(points), rule(points // 2 + 1)
    return LogZ(fine, abs(fine - coarse), "quadrature",
                f"trapezoid rule on {points}^{target.dim} points over [-{radius}, {radius}]^{target.dim} "
                f"(unconstrained space); error = |fine - half-resolution|")


# ------------------------------------------------------------------------ AIS
def logz_ais(model, params=None, consts=None, runs: int = 256, temperatures: int = 1000, steps: int = 1,
             key=0, data: Optional[dict] = None, step_size: float = 0.05) -> LogZ:
    """Annealed importance sampling along the geometric path from a normalized base p0 to exp(−E).

    Base: a factorized Bernoulli over binary/spin variables (frequencies from ``data`` when given,
    else 1/2) and a standard normal on the unconstrained continuous variables (the data's mean and
    standard deviation when given). Transitions: block Gibbs sweeps for discrete variables and MALA
    steps for continuous ones, ``steps`` per temperature; the schedule is a sigmoid in β.
    Returns log Z with the standard error of the log-mean-exp (delta method) and, in the detail, the
    effective sample size of the weights; a warning is added when fewer than 10 % of the runs carry
    the estimate.
    """
    from .infer import gibbs as G
    from .infer import mala as M
    from .infer.target import Target
    target = Target(model, params, consts)
    low = target.low
    cats = [s for s in target.disc if s.domain.kind == "categorical"]
    if cats:
        raise EbmError("logz", f"ais handles binary and spin variables; '{cats[0].name}' is categorical",
                       cats[0].span, "use method='exact' when the states can be enumerated")
    lay = G.layout(target)
    blocks = G.find_blocks(target, lay)
    spin = jnp.asarray(lay.element_kinds() == "spin")
    fd = float_dtype()
    # --- base distribution
    p_on = jnp.full((lay.n,), 0.5, fd)
    mu = jnp.zeros((target.dim,), fd)
    sd = jnp.ones((target.dim,), fd)
    if data is not None:
        if lay.n:
            d_rows = {n: jnp.asarray(data[n], fd) for n in lay.names if n in data}
            if len(d_rows) == len(lay.names):
                flat = jax.vmap(lay.flatten)(d_rows)
                on = jnp.where(spin, (flat + 1) / 2, flat)
                p_on = jnp.clip(jnp.mean(on, axis=0), 0.02, 0.98)
        if target.dim:
            u = jax.vmap(lambda row: jax.flatten_util.ravel_pytree(
                low.to_unconstrained({s.name: row[s.name] for s in target.cont}))[0])(
                {s.name: jnp.asarray(data[s.name], fd) for s in target.cont})
            mu, sd = jnp.mean(u, 0), jnp.std(u, 0) + 1e-3
    logit_on = jnp.log(p_on) - jnp.log1p(-p_on)

    def log_p0(z, x):
        on = jnp.where(spin, (x + 1) / 2, x)
        lp_d = jnp.sum(on * jnp.log(p_on) + (1 - on) * jnp.log1p(-p_on))
        lp_c = jnp.sum(-0.5 * ((z - mu) / sd) ** 2 - jnp.log(sd) - 0.5 * jnp.log(2 * jnp.pi))
        return lp_d + lp_c

    def log_target(z, x):  # −E(x(z)) + log|Jacobian|
        return target.logdensity(z, lay.unflatten(x))

    def log_f(beta, z, x):
        return (1 - beta) * log_p0(z, x) + beta * log_target(z, x)

    def sample_p0(k):
        k1, k2 = jax.random.split(k)
        on = jax.random.uniform(k1, (lay.n,)) < p_on
        x = jnp.where(spin, 2.0 * on - 1.0, on.astype(fd)).astype(fd)
        z = mu + sd * jax.random.normal(k2, (target.dim,), fd)
        return z, x

    def transition(k, beta, z, x):
        kc, kd = jax.random.split(k)
        if target.dim:
            ld = jax.value_and_grad(lambda zz: log_f(beta, zz, x))
            lp, g = ld(z)
            z, _, _, _, _ = M.step(kc, z, lp, g, ld, step_size, jnp.ones((), fd))
        if lay.n:
            # E_β(d) = β E(d) − (1 − β) log p0(d): the base is a product of Bernoullis, so the blocks stay valid
            def energy_of(zz, d):
                xx = lay.flatten(d)
                on = jnp.where(spin, (xx + 1) / 2, xx)
                return -(beta * log_target(zz, xx) + (1 - beta) * jnp.sum(on * logit_on))
            x = lay.flatten(G.make_sweep(lay, blocks, energy_of)(kd, z, lay.unflatten(x))[0])
        return z, x

    b = jax.nn.sigmoid(jnp.linspace(-6.0, 6.0, temperatures))
    betas = jnp.concatenate([jnp.zeros(1), (b - b[0]) / (b[-1] - b[0])]).astype(fd)

    def one_run(k):
        k0, kr = jax.random.split(k)
        z, x = sample_p0(k0)

        def body(carry, inp):
            z, x, logw = carry
            b_prev, b_next, kk = inp
            logw = logw + log_f(b_next, z, x) - log_f(b_prev, z, x)
            for kk_i in jax.random.split(kk, steps):
                z, x = transition(kk_i, b_next, z, x)
            return (z, x, logw), None
        keys = jax.random.split(kr, temperatures)
        (z, x, logw), _ = jax.lax.scan(body, (z, x, jnp.zeros((), fd)), (betas[:-1], betas[1:], keys))
        return logw

    rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
    logw = np.asarray(jax.jit(jax.vmap(one_run))(jax.random.split(rng, runs)), np.float64)
    value = float(logsumexp(jnp.asarray(logw)) - np.log(runs))
    w = np.exp(logw - logw.max())
    ess = float(w.sum() ** 2 / (w ** 2).sum())
    se = float(np.std(w, ddof=1) / (np.sqrt(runs) * w.mean()))
    detail = f"{runs} runs x {temperatures} temperatures x {steps} step(s); weight ESS {ess:.1f}"
    if ess < 0.1 * runs:
        detail += "; warning: the weights are degenerate (ESS below 10% of the runs): use more temperatures"
    return LogZ(value, se, "ais", detail)


def logz(model, params=None, method: str = "auto", consts=None, **options) -> LogZ:
    """Estimate log Z of a model at ``params``.

    method: ``exact`` (enumeration with analytic sums; discrete models up to 2^24 states),
    ``quadrature`` (1–2 continuous dimensions), ``ais``, or ``auto`` — the cheapest exact method that
    applies, else AIS (the choice is in the returned ``method`` and ``detail``).
    """
    if method == "exact":
        return logz_exact(model, params, consts, **options)
    if method == "quadrature":
        return logz_quadrature(model, params, consts, **options)
    if method == "ais":
        return logz_ais(model, params, consts, **options)
    if method != "auto":
        raise EbmError("logz", f"unknown method '{method}'", hint="choose auto, exact, quadrature or ais")
    random = model.random
    if random and all(s.domain.discrete for s in random):
        try:
            return logz_exact(model, params, consts)
        except EbmError as e:
            if "states" not in e.message:
                raise
    elif random and all(s.domain.continuous for s in random):
        from .infer.target import Target
        if Target(model, params, consts).dim in (1, 2):
            return logz_quadrature(model, params, consts)
    return logz_ais(model, params, consts, **options)


# ----------------------------------------------------------------- evaluation
def log_ratio(model, params, x: dict, y: dict):
    """log p(x) − log p(y) = F(y) − F(x): needs no partition function (free energies sum out latents)."""
    fx = model.free_energy(params, {k: jnp.asarray(v, float_dtype()) for k, v in x.items()})
    fy = model.free_energy(params, {k: jnp.asarray(v, float_dtype()) for k, v in y.items()})
    return fy - fx


def anomaly_score(model, params, data: dict) -> np.ndarray:
    """One score per row: the free energy F(x) (higher = less likely under the model)."""
    f = jax.jit(jax.vmap(lambda x: model.free_energy(params, x)))
    return np.asarray(f({k: jnp.asarray(v, float_dtype()) for k, v in data.items()}))


def anomaly_threshold(model, params, held_out: dict, false_alarm: float = 0.01) -> float:
    """The score above which a held-out (normal) row is flagged with probability ``false_alarm``."""
    if not 0 < false_alarm < 1:
        raise EbmError("logz", "false_alarm must be between 0 and 1")
    return float(np.quantile(anomaly_score(model, params, held_out), 1 - false_alarm))


def denoise(model, params, x_noisy: dict, steps: int = 200, step_size: float = 1e-3, temperature_from: float = 1.0,
            key=0) -> dict:
    """Annealed Langevin toward high density: x ← x + ε ∇log p(x) + sqrt(2 ε T_t) ξ, with the
    temperature T_t falling geometrically from ``temperature_from`` to ~0, for every row at once.
    Real-valued vars only; returns the cleaned rows (same keys and shapes)."""
    bad = [s for s in model.vars if s.domain.kind != "real"]
    if bad or model.latents:
        raise EbmError("logz", "denoise moves real-valued vars of a model without latents",
                       (bad[0].span if bad else model.latents[0].span))
    names = [s.name for s in model.vars]
    temps = temperature_from * jnp.geomspace(1.0, 1e-4, steps)

    def one(row, k):
        def body(v, inp):
            t, kk = inp
            g = jax.grad(lambda v: -model.energy(params, v))(v)
            noise = {n: jax.random.normal(kn, jnp.shape(v[n]), float_dtype())
                     for n, kn in zip(names, jax.random.split(kk, len(names)))}
            v = {n: v[n] + step_size * g[n] + jnp.sqrt(2 * step_size * t) * noise[n] for n in names}
            return v, None
        out, _ = jax.lax.scan(body, row, (temps, jax.random.split(k, steps)))
        return out

    rows = {n: jnp.asarray(x_noisy[n], float_dtype()) for n in names}
    n_rows = rows[names[0]].shape[0]
    rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
    out = jax.jit(jax.vmap(one))(rows, jax.random.split(rng, n_rows))
    return {n: np.asarray(v) for n, v in out.items()}


def classify(model, params, x: dict, label: str = "y") -> np.ndarray:
    """p(label = k | x) for every row, exactly: softmax over k of −F(x, k) (energies E(x, y), JEM-style)."""
    spec = model.spec(label)
    if spec.domain.kind != "categorical":
        raise EbmError("logz", f"'{label}' must be a categorical var to classify", spec.span)
    k = model.lowered.domain_args[label][0]
    rows = {n: jnp.asarray(v, float_dtype()) for n, v in x.items() if n != label}

    def one(row):
        f = jax.vmap(lambda c: model.free_energy(params, {**row, label: c}))(jnp.arange(k))
        return jax.nn.softmax(-f)
    return np.asarray(jax.jit(jax.vmap(one))(rows))
