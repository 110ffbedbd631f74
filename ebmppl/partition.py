"""Partition functions: exact enumeration (with analytic sums over two-state variables the energy is
affine in), quadrature, annealed importance sampling; the likelihoods and mixtures that build on them.

log Z = log Σ_x exp(−E(x)) over every var and latent. For exact enumeration the variables are split
into an enumerated set S and a summed set R such that the energy is affine in R given S (checked on
the jaxpr, as for free energies); then

    Z = Σ_S exp(−E(S, R=0)) Π_r (1 + exp(−g_r))   (binary r; 2 cosh g_r for spin),  g = ∂E/∂R at R = 0,

so a 64×16 RBM costs 2^16 terms, not 2^80. What uses a log Z without estimating one (anomaly scores,
denoising, classification) is in :mod:`ebmppl.applications`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from jax.scipy.special import logsumexp

from .settings import ensure_compile_cache, float_dtype
from .errors import EbmError, EbmSemanticError
from .infer import gibbs as G
from .infer import mala as M
from .infer.target import Target
from .model import compose
from .model.affine import enumerate_states, is_affine_in, log_sum_affine
from .model.normalizer import LogZ, normalized
from .model.spec import Mixture, Model, Product, Temper, tree_str

__all__ = ["logz", "logz_exact", "logz_quadrature", "logz_ais", "log_likelihood", "log_ratio", "mixture",
           "with_component_logz"]

EXACT_LIMIT = 2 ** 24


# ------------------------------------------------------------------------ exact
def _states(low, spec) -> int:
    """The number of joint states of one finite variable (states per element to the number of elements)."""
    k = spec.domain.row.n_states(low.domain_args[spec.name])
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
    unbounded = [s for s in random if not s.domain.row.finite]
    if unbounded:
        raise EbmError("logz", f"'{unbounded[0].name}' is an unbounded int and cannot be enumerated",
                       unbounded[0].span)
    params = model.init_params(0)
    values = low.example_values()
    best = None
    two_state = [s for s in random if s.domain.row.two_state]
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
    ensure_compile_cache()
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


# ------------------------------------------------------------------- quadrature
def logz_quadrature(model, params=None, consts=None, points: int = 801, radius: float = 8.0) -> LogZ:
    """log Z of a 1- or 2-dimensional continuous model on a fine grid of the unconstrained space.

    The integrand is exp(−E(x(u)) + log|dx/du|) over u in [−radius, radius]^d (trapezoid rule);
    the stated error is the difference from the same rule on a grid half as fine.
    """
    ensure_compile_cache()
    target = Target(model, params, consts)
    if target.disc or target.dim not in (1, 2):
        raise EbmError("logz", f"quadrature handles 1 or 2 continuous dimensions; this model has {target.dim}"
                               + (" and discrete variables" if target.disc else ""),
                       hint="use method='exact' (discrete) or 'ais'")
    f = jax.jit(jax.vmap(lambda z: target.logdensity(z, {})))

    def rule(n):
        g = np.linspace(-radius, radius, n)
        w1 = np.full(n, g[1] - g[0])
        w1[[0, -1]] /= 2
        if target.dim == 1:
            lp = np.asarray(f(jnp.asarray(g[:, None], float_dtype())), np.float64)
            return float(logsumexp(jnp.asarray(lp + np.log(w1))))
        uu, vv = np.meshgrid(g, g, indexing="ij")
        lp = np.asarray(f(jnp.asarray(np.stack([uu.ravel(), vv.ravel()], -1), float_dtype())), np.float64)
        return float(logsumexp(jnp.asarray(lp + np.log(np.outer(w1, w1).ravel()))))

    fine, coarse = rule(points), rule(points // 2 + 1)
    return LogZ(fine, abs(fine - coarse), "quadrature",
                f"trapezoid rule on {points}^{target.dim} points over [-{radius}, {radius}]^{target.dim} "
                f"(unconstrained space); error = |fine - half-resolution|")


# -------------------------------------------------------------------------- AIS
class _Base(NamedTuple):
    """AIS's normalized start p0: independent two-state elements, a diagonal normal on the unconstrained reals.

    An element's value is ``lo + width * on`` with ``on`` in {0, 1} (binary: 0/1; spin: −1/+1).
    """

    p_on: jnp.ndarray  # P(on) per discrete element
    lo: jnp.ndarray  # each discrete element's lower state
    width: jnp.ndarray  # its upper state minus its lower one
    mu: jnp.ndarray  # the normal's mean per unconstrained coordinate
    sd: jnp.ndarray  # and its standard deviation

    def on(self, x):
        """1 where a discrete element is in its upper state, 0 where in its lower one."""
        return (x - self.lo) / self.width

    @property
    def logit_on(self):
        return jnp.log(self.p_on) - jnp.log1p(-self.p_on)

    def log_prob(self, z, x):
        on = self.on(x)
        lp_d = jnp.sum(on * jnp.log(self.p_on) + (1 - on) * jnp.log1p(-self.p_on))
        lp_c = jnp.sum(-0.5 * ((z - self.mu) / self.sd) ** 2 - jnp.log(self.sd) - 0.5 * jnp.log(2 * jnp.pi))
        return lp_d + lp_c

    def sample(self, key):
        k1, k2 = jax.random.split(key)
        on = jax.random.uniform(k1, self.p_on.shape) < self.p_on
        x = self.lo + on.astype(self.lo.dtype) * self.width
        z = self.mu + self.sd * jax.random.normal(k2, self.mu.shape, self.mu.dtype)
        return z, x


def _ais_base(target, lay, data: Optional[dict]) -> _Base:
    """p0: Bernoulli(1/2) elements and N(0, 1) coordinates, or the data's frequencies, means and sds."""
    fd = float_dtype()
    low = target.low
    lower, upper = lay.element_states()  # each element's two states (binary 0/1, spin -1/+1)
    base = _Base(jnp.full((lay.n,), 0.5, fd), jnp.asarray(lower, fd), jnp.asarray(upper - lower, fd),
                 jnp.zeros((target.dim,), fd), jnp.ones((target.dim,), fd))
    if data is None:
        return base
    if lay.n:
        d_rows = {n: jnp.asarray(data[n], fd) for n in lay.names if n in data}
        if len(d_rows) == len(lay.names):
            frequency = jnp.mean(base.on(jax.vmap(lay.flatten)(d_rows)), axis=0)
            base = base._replace(p_on=jnp.clip(frequency, 0.02, 0.98))
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
            # E_β(d) = β E(d) − (1 − β) log p0(d): the base is a product of Bernoullis, so the blocks stay valid
            def energy_of(zz, d):
                xx = self.lay.flatten(d)
                return -(beta * self.log_target(zz, xx) + (1 - beta) * jnp.sum(self.base.on(xx) * self.base.logit_on))
            x = self.lay.flatten(G.make_sweep(self.lay, self.blocks, energy_of)(kd, z, self.lay.unflatten(x))[0])
        return z, x

    def log_weight(self, key, betas):
        """One run from a draw of p0 through every temperature: its log importance weight."""
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
        (_, _, logw), _ = jax.lax.scan(body, (z, x, jnp.zeros((), betas.dtype)), (betas[:-1], betas[1:], keys))
        return logw


def _schedule(temperatures: int):
    """Inverse temperatures 0 = β_0 < ... < β_T = 1 on a sigmoid (dense at both ends)."""
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
    else 1/2) and a standard normal on the unconstrained continuous variables (the data's mean and
    standard deviation when given). Transitions: block Gibbs sweeps for discrete variables and MALA
    steps for continuous ones, ``steps`` per temperature; the schedule is a sigmoid in β.
    Returns log Z with the standard error of the log-mean-exp (delta method) and, in the detail, the
    effective sample size of the weights; a warning is added when fewer than 10 % of the runs carry
    the estimate.
    """
    ensure_compile_cache()
    target = Target(model, params, consts)
    many = [s for s in target.disc if not s.domain.row.two_state]
    if many:
        raise EbmError("logz", f"ais handles binary and spin variables; '{many[0].name}' is {many[0].domain.kind}",
                       many[0].span, "use method='exact' when the states can be enumerated")
    lay = G.layout(target)
    path = _Path(target, lay, G.find_blocks(target, lay), _ais_base(target, lay, data), steps, step_size)
    betas = _schedule(temperatures)
    rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
    logw = jax.jit(jax.vmap(lambda k: path.log_weight(k, betas)))(jax.random.split(rng, runs))
    return _ais_estimate(np.asarray(logw, np.float64), runs, temperatures, steps)


# ------------------------------------------------------------------------- auto
def logz(model, params=None, method: str = "auto", consts=None, **options) -> LogZ:
    """Estimate log Z of a model at ``params``.

    method: ``exact`` (enumeration with analytic sums; discrete models up to 2^24 states),
    ``quadrature`` (1–2 continuous dimensions), ``ais``, or ``auto`` — the cheapest exact method that
    applies, else AIS (the choice is in the returned ``method`` and ``detail``).
    """
    ensure_compile_cache()
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
        if Target(model, params, consts).dim in (1, 2):
            return logz_quadrature(model, params, consts)
    return logz_ais(model, params, consts, **options)


# ------------------------------------------------------------------ likelihoods
def log_likelihood(model, params, data: dict, logz: Optional[float] = None) -> np.ndarray:
    """Per-row log p(x) = −F(x) − log Z (free energies sum out latents)."""
    ensure_compile_cache()
    if logz is None:
        logz = logz_exact(model, params).value
    f = jax.jit(jax.vmap(lambda x: model.free_energy(params, x)))
    return -np.asarray(f({k: jnp.asarray(v, float_dtype()) for k, v in data.items()})) - logz


def log_ratio(model, params, x: dict, y: dict):
    """log p(x) − log p(y) = F(y) − F(x): needs no partition function (free energies sum out latents)."""
    fx = model.free_energy(params, {k: jnp.asarray(v, float_dtype()) for k, v in x.items()})
    fy = model.free_energy(params, {k: jnp.asarray(v, float_dtype()) for k, v in y.items()})
    return fy - fx


# --------------------------------------------------------------------- mixtures
def mixture(weights, components, logz=None, params=None, **logz_options) -> Model:
    """A convex mixture of models: p(x) = sum_k w_k p_k(x), with p_k = exp(-E_k - log Z_k).

    ``logz`` says where each component's log Z comes from:

    - ``None``: every component is a normalized density (all ``~`` factors over the same
      variables), so every log Z is 0 and the mixture is exact;
    - ``"estimate"``: estimate each unnormalized component's log Z with :func:`ebmppl.logz` at
      ``params`` (default: the mixture's initial params); ``logz_options`` (``method="auto"``,
      ``runs=``, ``points=``, ...) go to it. Normalized components keep log Z = 0;
    - one entry per component: a number (supplied), an ``ebmppl.LogZ`` (from :func:`ebmppl.logz`;
      its method and error are recorded) or ``None`` for a normalized component.

    ``model.component_logz`` and ``model.summary()`` say which value each component uses and where it
    came from. A log Z holds at the params it was computed at: after fitting, re-estimate it with
    ``ebmppl.with_component_logz(model, params)``.

    Example:
        >>> a = ebmppl.parse("var x : real\nfactor a = (x + 1)^2 / 2")
        >>> b = ebmppl.parse("var x : real\nfactor b = (x - 2)^2 / 0.5")
        >>> m = ebmppl.mixture([0.4, 0.6], [a, b], logz="estimate")   # quadrature: 1-D
        >>> [round(z.value, 4) for z in m.component_logz]
        [0.9189, 0.2258]
    """
    compose.check_mixture_arguments(weights, components, logz)
    if not isinstance(logz, str):  # numbers, LogZ values or None: the model algebra alone
        if params is not None or logz_options:
            raise EbmSemanticError("params and log Z options are for logz='estimate'")
        return compose.mixture(weights, components, logz)
    # placeholders: with_component_logz sets every component's log Z and where it came from
    unestimated = compose.mixture(weights, components, [0.0] * len(components))
    return with_component_logz(unestimated, params, **logz_options)


def with_component_logz(model: Model, params=None, method: str = "auto", **logz_options) -> Model:
    """The model with every unnormalized mixture component's log Z estimated at ``params``.

    Each component is a sub-model (the same specs, its own composition subtree); its log Z comes from
    :func:`logz` with ``method`` and ``logz_options``; normalized components keep log Z = 0.
    Nested mixtures are resolved innermost first. The values and where they came from are in
    ``model.component_logz`` and ``model.summary()``.

    Example:
        >>> mix2 = ebmppl.with_component_logz(mix, {**mix.init_params(0), "sb": 0.8})
    """
    if not compose.mixture_nodes(model.effective_tree):
        raise EbmError("logz", f"model '{model.name}' has no mixture", hint="build one with ebmppl.mixture(...)")
    params = model.init_params(0) if params is None else params

    def visit(node):
        if isinstance(node, Product):
            return Product(tuple(visit(c) for c in node.children))
        if isinstance(node, Temper):
            return replace(node, child=visit(node.child))
        if not isinstance(node, Mixture):
            return node
        children = tuple(visit(c) for c in node.children)
        sources = tuple(_component_logz(model, c, params, method, logz_options) for c in children)
        return replace(node, children=children, logz=tuple(float(s.value) for s in sources), logz_source=sources)

    return replace(model, tree=visit(model.effective_tree))


def _component_logz(model: Model, node, params, method: str, options: dict) -> LogZ:
    """One component's log Z: 0 for a normalized density, else estimated on the sub-model of its subtree."""
    if compose.normalized_over(model, node) is not None:
        return normalized()
    sub = replace(model, tree=node, name=f"{model.name}[{tree_str(node)}]")
    return logz(sub, params, method=method, **options)
