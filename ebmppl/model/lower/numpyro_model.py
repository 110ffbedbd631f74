"""The NumPyro model of a lowered model: proper and observed sample sites for the `~` statements that
are generative (see :mod:`.sites`), a flat site over its domain for every other var and latent, the
lets ``numpyro.deterministic`` sites and each remaining top-level term a ``numpyro.factor``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from ...errors import EbmError
from .. import library as L
from ..spec import Ref, Spec
from . import sites as _sites
from .energies import compile_tree

if TYPE_CHECKING:
    from .lowered import Lowered


class FlatDiscrete(dist.Distribution):
    """A flat (log_prob 0) distribution over a finite set of values; NumPyro can enumerate it."""

    has_enumerate_support = True
    pytree_data_fields = ("_values",)
    pytree_aux_fields = ("_support",)

    def __init__(self, values, support, validate_args=None):
        self._values = jnp.asarray(values)
        self._support = support
        super().__init__(batch_shape=(), event_shape=(), validate_args=validate_args)

    @property
    def support(self):
        return self._support

    def sample(self, key, sample_shape=()):
        i = jax.random.randint(key, sample_shape + self.batch_shape, 0, self._values.shape[0])
        return self._values[i]

    def log_prob(self, value):
        return jnp.zeros(jnp.shape(value))

    def enumerate_support(self, expand=True):
        v = self._values.reshape((-1,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(v, v.shape[:1] + self.batch_shape) if expand else v


class NoDraw(EbmError, NotImplementedError):
    """A draw asked of a flat site: an ``error[sample]`` that NumPyro's initialization strategies, which catch
    ``NotImplementedError`` from distributions without ``sample``, still recognize."""


class FlatContinuous(dist.ImproperUniform):
    """NumPyro's improper flat distribution over a var's domain (the model's factors give the density), which
    says why when asked for a draw (a prior or predictive draw of a var without a proper `~`)."""

    pytree_aux_fields = ("_what",)

    def __init__(self, support, batch_shape, event_shape, what: str = "this var", validate_args=None):
        self._what = what
        super().__init__(support, batch_shape, event_shape, validate_args=validate_args)

    def sample(self, key, sample_shape=()):
        raise NoDraw("sample", f"{self._what} has no distribution to draw from: its density comes from the "
                                 f"model's factors",
                       hint="give it a `~` whose support is its domain and no other term, or condition on its draws "
                            "(Predictive(model, samples))")


def numpyro_model(low: "Lowered", params=None, consts=None):
    """A NumPyro model function whose log density is −E: a sample site per var and latent (proper where a `~`
    gives its distribution, see :mod:`.sites`), ``obs=`` sites for the observed consts, the lets as
    deterministic sites and a ``numpyro.factor`` per remaining term.

    The function takes the observed consts as keywords, the data by default; pass ``None`` to draw one
    (``Predictive(model.numpyro_model(), posterior_samples)(key, y=None)``), as in a NumPyro model whose data
    argument defaults to None.
    """
    params = low.init_params(0) if params is None and low.model.params else params
    data = {**low.const_env, **(consts or {})}
    example = low.example_values()
    builders = {f.name: _dist_builder(low, f) for f in low.model.factors if f.normalized}

    def env_of(values):  # vars not drawn yet stand at example values (nothing that is read depends on them)
        return low.env(params, {**example, **values}, consts)

    plan = _sites.plan(low, _support_reader(low, env_of, builders))
    top = _sites.top_terms(low)
    names = [node.name if isinstance(node, Ref) else f"{type(node).__name__.lower()}_{i}"
             for i, node in enumerate(top)]
    fns = {i: compile_tree(low.compiler, top[i], low.factor_fns) for i in plan.terms}
    site_dists = {n: jax.jit(_site_dist(env_of, builders[s.factor], low.shapes[n]))
                  for n, s in plan.sites.items() if not s.observed}

    @jax.jit
    def evaluate(values):
        # the lets, factor terms and observed sites' distributions in one compiled call: NumPyro runs the
        # model eagerly to set up each MCMC run (and traces it inside its jitted functions, where this inlines)
        env = low.env(params, values, consts)
        obs = {n: _sites.batch_of(builders[s.factor](env), jnp.shape(data[n]))
               for n, s in plan.sites.items() if s.observed}
        return {name: env[name] for name, _ in low.let_fns}, {i: -fns[i](env) for i in plan.terms}, obs

    def model(**observed):
        unknown = sorted(set(observed) - set(plan.observed))
        if unknown:
            raise EbmError("value", f"'{unknown[0]}' is not an observed const of the model",
                           hint=f"the observed consts are {', '.join(plan.observed) or 'none'}")
        values = {}
        for name in plan.order:
            s = low.specs[name]
            d = site_dists[name](values) if name in site_dists else base(low, s)
            values[name] = numpyro.sample(name, d)
        lets, terms, obs = evaluate(values)
        for name, _ in low.let_fns:
            numpyro.deterministic(name, lets[name])
        for i in plan.terms:
            numpyro.factor(names[i], terms[i])
        for name in plan.observed:
            numpyro.sample(name, obs[name], obs=observed.get(name, data[name]))
    model.sites = plan
    return model


def _dist_builder(low: "Lowered", f):
    """``env -> distribution`` of a `~` factor (its .ebm call, or the Python function's distribution)."""
    if f.fn is not None:
        fn, args = f.fn, f.args
        return lambda env: fn(*[env[a] for a in args])
    info = L.DISTRIBUTIONS[f.dist.name]
    return low.compiler.dist_call(f.dist, validate=not info.support_guaranteed)[1]


def _site_dist(env_of, build, shape):
    return lambda values: _sites.batch_of(build(env_of(values)), shape)


def _support_reader(low: "Lowered", env_of, builders):
    """``factor -> constraint`` of a `~` factor's distribution, None where its bounds move with the vars or it
    cannot be built here."""
    random = {s.name for s in low.model.random}

    def support_of(f):
        def build():
            return builders[f.name](env_of({}))
        try:  # the support's kind from a trace (nothing computed); bounds that are arrays need values
            c = jax.eval_shape(build).support
            base_c = _sites.base(c)
            bounds = [getattr(base_c, a) for a in ("lower_bound", "upper_bound") if hasattr(base_c, a)]
            if any(isinstance(b, jax.ShapeDtypeStruct) for b in bounds):
                if (_sites.reads(low, f) - {f.target_name}) & random:
                    return None  # bounds that move with the vars: not the var's fixed domain
                c = jax.jit(build)().support
        except Exception:  # a Python distribution that is not a pytree: keep the flat form
            return None
        return c
    return support_of


def base(low: "Lowered", s: Spec) -> dist.Distribution:
    """The flat distribution of a var or latent over its domain (the energy supplies the density)."""
    shape = low.shapes[s.name]
    c = low.constraint(s)
    row = s.domain.row
    if row.continuous:
        event = c.event_dim
        return FlatContinuous(c, shape[: len(shape) - event], shape[len(shape) - event:], f"{s.role} '{s.name}'")
    if not row.finite:
        raise EbmError("value", f"{s.role} '{s.name}' is an unbounded int; NumPyro cannot sample it", s.span,
                       "give it a finite domain (binary, categorical(K))")
    values = jnp.asarray(row.states(low.domain_args[s.name]))
    return FlatDiscrete(values, c).expand(shape).to_event(len(shape))
