"""Conditional likelihood of a categorical variable: training energies E(x, y) as classifiers.

For a var ``y : categorical(K)`` (the ``label`` option), p(y | x) = exp(−F(x, y)) / Σ_k exp(−F(x, k))
is exact — no partition function over x is needed — so J = E[F(x, y) + log Σ_k exp(−F(x, k))]
is the cross-entropy of the classifier the energy defines (the discriminative half of JEM,
Grathwohl et al. 2020).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import logsumexp

from ..errors import EbmError
from .objective import Objective


def ce_objective(problem, data, label: str = "y") -> Objective:
    model = problem.model
    try:
        spec = model.spec(label)
    except KeyError:
        raise EbmError("fit", f"method 'ce' needs the label var '{label}', which the model does not declare",
                       hint="pass --option label=NAME (a categorical(K) var)") from None
    row = spec.domain.row
    # categorical(K) is the finite kind stored as integers 0 .. K - 1
    if spec.role != "var" or not (row.finite and row.integer) or model.lowered.shapes[label] != ():
        raise EbmError("fit", f"the label '{label}' must be a scalar categorical(K) var, not {spec.type_str()}",
                       spec.span)
    k = row.n_states(model.lowered.domain_args[label])
    classes = jnp.arange(k)

    def loss(params, batch, key, state):
        def one(row):
            f_all = jax.vmap(lambda c: problem.energy(params, {**row, label: c}))(classes)
            return f_all[row[label].astype(jnp.int32)] + logsumexp(-f_all)
        return jnp.mean(jax.vmap(one)(batch)), (state, {})
    return Objective(loss)
