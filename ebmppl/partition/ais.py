"""Annealed importance sampling (AIS) for log Z along the geometric path from a normalized base p0 to exp(−E),
with the checks that keep an improper model from getting a confident number.

Base: a factorized Bernoulli over binary/spin variables, a uniform distribution over each categorical element's
states and a diagonal normal on the unconstrained continuous ones. Transitions: block Gibbs sweeps for the
discrete variables (categorical elements one at a time) and MALA steps for the continuous ones. The estimate
is refused (``error[logz]``) when a run's weight is not finite (the energy is NaN or −inf somewhere the runs
went), when the density does not vanish along some direction from the runs' best end point
(:func:`~ebmppl.partition.improper.probe_tails`), or when the two halves of the runs disagree by many standard
errors (the estimate does not settle).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.special import logsumexp

from ..errors import EbmError
from ..infer import gibbs as G
from ..infer import mala as M
from ..infer.options import prng_key
from ..infer.target import Target
from ..infer.values import check_values
from ..model.admit import require
from ..model.normalizer import LogZ
from ..settings import ensure_compile_cache, float_dtype
from ..vocabulary import knob
from . import improper

SETTLE_SE = 5.0  # the halves of the runs may differ by this many standard errors (combined) ...
SETTLE_FLOOR = 0.05  # ... or by this many nats, whichever is larger, before the estimate "does not settle"


class _Base(NamedTuple):
    """AIS's normalized start p0: independent discrete elements, a diagonal normal on the unconstrained reals.

    A two-state element's value is ``lo + width * on`` with ``on`` in {0, 1} (binary: 0/1; spin: −1/+1), P(on)
    ``p_on``; an element with more states (categorical) is uniform over its ``k`` consecutive values from ``lo``.
    """

    p_on: jnp.ndarray  # P(on) per discrete element (unused for a many-state one)
    lo: jnp.ndarray  # each discrete element's lowest state
    width: jnp.ndarray  # its highest state minus its lowest one
    many: jnp.ndarray  # True for an element with more than two states
    k: jnp.ndarray  # its number of states
    mu: jnp.ndarray  # the normal's mean per unconstrained coordinate
    sd: jnp.ndarray  # and its standard deviation

    def on(self, x):
        """1 where a two-state element is in its upper state, 0 where in its lower one (0 for many-state ones)."""
        return jnp.where(self.many, 0.0, (x - self.lo) / self.width)

    @property
    def logit_on(self):
        return jnp.where(self.many, 0.0, jnp.log(self.p_on) - jnp.log1p(-self.p_on))

    def log_prob(self, z, x):
        on = self.on(x)
        lp_d = jnp.sum(jnp.where(self.many, -jnp.log(self.k),
                                 on * jnp.log(self.p_on) + (1 - on) * jnp.log1p(-self.p_on)))
        lp_c = jnp.sum(-0.5 * ((z - self.mu) / self.sd) ** 2 - jnp.log(self.sd) - 0.5 * jnp.log(2 * jnp.pi))
        return lp_d + lp_c

    def sample(self, key):
        k1, k2 = jax.random.split(key)
        u = jax.random.uniform(k1, self.p_on.shape, self.lo.dtype)
        x = jnp.where(self.many, self.lo + jnp.minimum(jnp.floor(u * self.k), self.k - 1),
                      self.lo + (u < self.p_on).astype(self.lo.dtype) * self.width)
        z = self.mu + self.sd * jax.random.normal(k2, self.mu.shape, self.mu.dtype)
        return z, x


def _ais_base(target, lay, data: Optional[dict]) -> _Base:
    """p0: Bernoulli(1/2) elements and N(0, 1) coordinates, or the data's frequencies, means and sds."""
    fd = float_dtype()
    low = target.low
    lower, upper = lay.element_states()  # each element's lowest and highest state (binary 0/1, spin -1/+1)
    many = ~lay.two_state()
    base = _Base(jnp.full((lay.n,), 0.5, fd), jnp.asarray(lower, fd), jnp.asarray(upper - lower, fd),
                 jnp.asarray(many), jnp.asarray(upper - lower + 1, fd), jnp.zeros((target.dim,), fd),
                 jnp.ones((target.dim,), fd))
    if data is None:
        return base
    if lay.n:
        d_rows = {n: jnp.asarray(data[n], fd) for n in lay.names if n in data}
        if len(d_rows) == len(lay.names):
            frequency = jnp.mean(base.on(jax.vmap(lay.flatten)(d_rows)), axis=0)
            base = base._replace(p_on=jnp.where(base.many, 0.5, jnp.clip(frequency, 0.02, 0.98)))
    if target.dim:
        u = jax.vmap(lambda row: ravel_pytree(
            low.to_unconstrained({s.name: row[s.name] for s in target.cont}))[0])(
            {s.name: jnp.asarray(data[s.name], fd) for s in target.cont})
        base = base._replace(mu=jnp.mean(u, 0), sd=jnp.std(u, 0) + 1e-3)
    return base


@dataclass(frozen=True)
class _Path:
    """The geometric path log f_β = (1 − β) log p0 + β (−E) and its transitions: one AIS run's world."""

    target: Any
    lay: Any  # the discrete variables' flat layout (infer.gibbs.Layout)
    blocks: Any  # their Gibbs blocks
    base: _Base
    steps: int  # transitions per temperature
    step_size: float  # MALA's, for the continuous coordinates

    def log_target(self, z, x):  # −E(x(z)) + log|Jacobian|
        return self.target.logdensity(z, self.lay.unflatten(x))

    def log_f(self, beta, z, x):
        return (1 - beta) * self.base.log_prob(z, x) + beta * self.log_target(z, x)

    def transition(self, key, beta, z, x):
        """A MALA step on the continuous coordinates, then a block Gibbs sweep of the discrete elements."""
        kc, kd = jax.random.split(key)
        if self.target.dim:
            ld = jax.value_and_grad(lambda zz: self.log_f(beta, zz, x))
            state, _ = M.step_with(M.draw(kc, z), M.init(z, ld), ld, self.step_size, jnp.ones((), z.dtype))
            z = state.position
        if self.lay.n:
            # E_β(d) = β E(d) − (1 − β) log p0(d): the base is a product of Bernoullis and uniforms (constant in
            # d), so the blocks stay valid
            def energy_of(zz, d):
                xx = self.lay.flatten(d)
                return -(beta * self.log_target(zz, xx) + (1 - beta) * jnp.sum(self.base.on(xx) * self.base.logit_on))
            x = self.lay.flatten(G.make_sweep(self.lay, self.blocks, energy_of)(kd, z, self.lay.unflatten(x))[0])
        return z, x

    def log_weight(self, key, betas):
        """One run from a draw of p0 through every temperature: its log importance weight and where it ended
        (z, x)."""
        k0, kr = jax.random.split(key)
        z, x = self.base.sample(k0)

        def body(carry, inp):
            z, x, logw = carry
            b_prev, b_next, kk = inp
            logw = logw + self.log_f(b_next, z, x) - self.log_f(b_prev, z, x)
            for kk_i in jax.random.split(kk, self.steps):
                z, x = self.transition(kk_i, b_next, z, x)
            return (z, x, logw), None
        keys = jax.random.split(kr, len(betas) - 1)
        (z, x, logw), _ = jax.lax.scan(body, (z, x, jnp.zeros((), betas.dtype)), (betas[:-1], betas[1:], keys))
        return logw, z, x


def _check_consecutive(target, lay) -> None:
    """The uniform base of a many-state element draws consecutive values from its lowest: so must its states be."""
    for s, row, args in zip(target.disc, lay.rows, lay.args):
        states = np.asarray(row.states(args), np.float64)
        if len(states) > 2 and not np.array_equal(states, states[0] + np.arange(len(states))):
            raise EbmError("logz", f"ais draws '{s.name}' uniformly over consecutive values; its states are not "
                                   f"consecutive", s.span, f"use {knob('method', 'exact')} when the states can be "
                                                           f"enumerated")


def _schedule(temperatures: int):
    """Inverse temperatures 0 = β_0 < ... < β_T = 1 on a sigmoid (dense at both ends)."""
    if temperatures == 1:  # one jump from the base to the target: plain importance sampling
        return jnp.array([0.0, 1.0], float_dtype())
    b = jax.nn.sigmoid(jnp.linspace(-6.0, 6.0, temperatures))
    return jnp.concatenate([jnp.zeros(1), (b - b[0]) / (b[-1] - b[0])]).astype(float_dtype())


def _ais_estimate(logw: np.ndarray, runs: int, temperatures: int, steps: int) -> LogZ:
    """log-mean-exp of the weights, its delta-method standard error, and the weights' ESS in the detail."""
    value = float(logsumexp(jnp.asarray(logw)) - np.log(runs))
    w = np.exp(logw - logw.max())
    ess = float(w.sum() ** 2 / (w ** 2).sum())
    se = float(np.std(w, ddof=1) / (np.sqrt(runs) * w.mean()))
    detail = f"{runs} runs x {temperatures} temperatures x {steps} step(s); weight ESS {ess:.1f}"
    if ess < 0.1 * runs:
        detail += "; warning: the weights are degenerate (ESS below 10% of the runs): use more temperatures"
    return LogZ(value, se, "ais", detail)


def logz_ais(model, params=None, consts=None, runs: int = 256, temperatures: int = 1000, steps: int = 1,
             key=0, data: Optional[dict] = None, step_size: float = 0.05) -> LogZ:
    """Annealed importance sampling along the geometric path from a normalized base p0 to exp(−E).

    Base: a factorized Bernoulli over binary/spin variables (frequencies from ``data`` when given,
    else 1/2), a uniform distribution over each categorical element's states, and a standard normal on
    the unconstrained continuous variables (the data's mean and standard deviation when given).
    Transitions: block Gibbs sweeps for discrete variables and MALA steps for continuous ones, ``steps`` per
    temperature; the schedule is a sigmoid in β.
    Returns log Z with the standard error of the log-mean-exp (delta method) and, in the detail, the
    effective sample size of the weights; a warning is added when fewer than 10 % of the runs carry
    the estimate.
    """
    ensure_compile_cache()
    runs = require(runs, "size", what="runs=")
    if runs < 2:
        raise EbmError("usage", f"runs= must be at least 2 (the spread of the runs gives the standard error); got "
                                f"{runs}")
    temperatures = require(temperatures, "size", what="temperatures=")
    steps = require(steps, "size", what="steps=")
    step_size = require(step_size, "positive", what="step_size=")
    rng = prng_key(key)
    target = Target(model, params, consts)
    if data is not None:
        check_values(model, data, target.cont + target.disc, "data", chain_axis=True)
    lay = G.layout(target)
    _check_consecutive(target, lay)
    path = _Path(target, lay, G.find_blocks(target, lay), _ais_base(target, lay, data), steps, step_size)
    betas = _schedule(temperatures)
    logw, z, x = jax.jit(jax.vmap(lambda k: path.log_weight(k, betas)))(jax.random.split(rng, runs))
    logw = np.asarray(logw, np.float64)
    _check_runs(path, logw, np.asarray(z, np.float64), np.asarray(x))
    return _ais_estimate(logw, runs, temperatures, steps)


def _check_runs(path: _Path, logw: np.ndarray, z: np.ndarray, x: np.ndarray) -> None:
    """The runs' weights are finite, the density vanishes far from where the best run ended, and the two
    halves of the runs agree: otherwise the error saying the model looks improper."""
    target, runs = path.target, len(logw)
    bad = np.flatnonzero(np.isnan(logw) | (logw == np.inf))
    if len(bad):
        i = int(bad[0])
        if not np.all(np.isfinite(z[i])):
            axis = int(np.flatnonzero(~np.isfinite(z[i]))[0])
            raise improper.tail(target, axis, bool(np.nan_to_num(z[i][axis], nan=1.0) > 0), "grows without bound",
                                f"{len(bad)} of {runs} AIS runs ran off to infinity")
        raise _nonfinite_run(path, logw, z, x, bad)
    if np.all(logw == -np.inf):
        raise EbmError("logz", f"the model looks improper: every one of the {runs} AIS runs ended with weight 0 (an "
                               f"energy of +inf)", hint="check the factors: the energy must be finite somewhere")
    best = int(np.argmax(logw))
    if target.dim:
        ends = z[np.isfinite(logw)]
        drift = ends[np.argmax(np.linalg.norm(ends - z[best], axis=1))] - z[best]
        found = improper.probe_tails(target, z[best], path.lay.unflatten(jnp.asarray(x[best])), drift)
        if found is not None:
            raise found
    _check_halves(logw)


def _nonfinite_run(path: _Path, logw, z, x, bad) -> EbmError:
    """The error for runs whose weight is NaN or +inf: named at the end point of the first, when its energy is
    not finite there, else in general."""
    i = int(bad[0])
    d = path.lay.unflatten(jnp.asarray(x[i])) if path.lay.n else {}
    if not np.isfinite(float(path.target.logdensity(jnp.asarray(z[i], path.base.mu.dtype), d))):
        return improper.nonfinite_point(path.target, z[i], d, len(bad), len(logw), "AIS runs' weights")
    return EbmError("logz", f"the model looks improper: {len(bad)} of the {len(logw)} AIS runs ended with a weight "
                            f"that is not finite ({logw[i]}): the energy is not finite somewhere the runs went",
                    hint=improper.HINT_FINITE)


def _check_halves(logw: np.ndarray) -> None:
    """The estimates of the two halves of the runs agree within SETTLE_SE standard errors (or SETTLE_FLOOR)."""
    half = len(logw) // 2
    if half < 2:
        return
    a = _ais_estimate(logw[:half], half, 0, 0)
    b = _ais_estimate(logw[half:2 * half], half, 0, 0)
    spread = np.hypot(a.stderr, b.stderr)
    gap = abs(a.value - b.value)
    if gap > max(SETTLE_SE * spread, SETTLE_FLOOR):
        raise EbmError("logz", f"the model looks improper, or AIS cannot estimate its log Z: the estimate does not "
                               f"settle (the two halves of the runs give {a.value:.4g} and {b.value:.4g}, "
                               f"{gap / max(spread, 1e-12):.0f} standard errors apart)",
                       hint="check that the density vanishes far away in every direction; if it does, use more "
                            "runs and temperatures (runs=, temperatures=; --runs, --temperatures)")
