"""The NumPyro model of a lowered model: each var and latent a flat site over its domain, the lets
``numpyro.deterministic`` sites and each top-level term a ``numpyro.factor``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpyro
import numpyro.distributions as dist

from ...errors import EbmError
from ..spec import Product, Ref, Spec
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


def numpyro_model(low: "Lowered", params=None, consts=None):
    """A NumPyro model function whose log density is −E (the lets recorded as deterministic sites)."""
    params = low.init_params(0) if params is None and low.model.params else params
    top = low.tree.children if isinstance(low.tree, Product) else (low.tree,)
    names = [node.name if isinstance(node, Ref) else f"{type(node).__name__.lower()}_{i}"
             for i, node in enumerate(top)]
    fns = [compile_tree(low.compiler, node, low.factor_fns) for node in top]

    @jax.jit
    def evaluate(values):
        # the lets and factor terms in one compiled call: NumPyro runs the model eagerly to set up each
        # MCMC run (and traces it inside its jitted functions, where this call inlines)
        env = low.env(params, values, consts)
        return {name: env[name] for name, _ in low.let_fns}, [-fn(env) for fn in fns]

    def model():
        values = {}
        for s in low.model.random:
            values[s.name] = numpyro.sample(s.name, base(low, s))
        lets, terms = evaluate(values)
        for name, _ in low.let_fns:
            numpyro.deterministic(name, lets[name])
        for name, term in zip(names, terms):
            numpyro.factor(name, term)
    return model


def base(low: "Lowered", s: Spec) -> dist.Distribution:
    """The flat distribution of a var or latent over its domain (the energy supplies the density)."""
    shape = low.shapes[s.name]
    c = low.constraint(s)
    row = s.domain.row
    if row.continuous:
        event = c.event_dim
        return dist.ImproperUniform(c, shape[: len(shape) - event], shape[len(shape) - event:])
    if not row.finite:
        raise EbmError("value", f"{s.role} '{s.name}' is an unbounded int; NumPyro cannot sample it", s.span,
                       "give it a finite domain (binary, categorical(K))")
    values = jnp.asarray(row.states(low.domain_args[s.name]))
    return FlatDiscrete(values, c).expand(shape).to_event(len(shape))
