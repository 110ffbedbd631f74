"""Gibbs-with-gradients (Grathwohl et al., 2021) for two-state (binary and spin) variables.

Each step proposes flipping one element, chosen with probabilities
softmax(−(∂E/∂x_i)·Δx_i / 2) — a first-order estimate of each flip's energy
change — and accepts with the Metropolis–Hastings ratio (:mod:`.proposal`), so
the chain is exact. It suits binary models without a simple block structure,
where a block sampler would update one element at a time.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..settings import float_dtype
from ..errors import EbmError
from .gibbs import DiscreteLayout, layout
from .proposal import mh_accept
from ..vocabulary import knob


class GibbsWithGradients:
    """The discrete core for a Target: ``update(key, z, d) -> (d, mean acceptance)``, ``steps`` flips a draw.

    Args:
        target: the model's Target; every discrete variable must have two states.
        steps: flips per draw (default: one per element, a sweep's worth).
    """

    def __init__(self, target, steps: int | None = None):
        lay = layout(target)
        bad = [n for n, row in zip(lay.names, lay.rows) if not row.two_state]
        if bad:
            kind = lay.kinds[lay.names.index(bad[0])]
            raise EbmError("sample", f"gwg moves binary and spin variables; '{bad[0]}' is {kind}",
                           hint=f"use {knob('sampler', 'gibbs')} for categorical variables")
        self.target = target
        self.layout: DiscreteLayout = lay
        self.steps = int(steps or max(1, lay.n))
        off, on = lay.element_states()
        self._flip_sum = jnp.asarray(off + on, float_dtype())  # a flip maps x to off + on - x

    def __call__(self, key, z, d):
        x = self.layout.flatten(d)
        e, g = self._energy_and_grad(z, x)
        (x, _, _, _), accs = jax.lax.scan(self._flip, (x, e, g, z), jax.random.split(key, self.steps))
        return self.layout.unflatten(x), jnp.mean(accs).astype(float_dtype())

    def _energy_and_grad(self, z, x):
        return jax.value_and_grad(lambda x: self.target.energy_of(z, self.layout.unflatten(x)))(x)

    def _flip_delta(self, x):
        return self._flip_sum - 2.0 * x

    def _flip(self, carry, key):
        """One proposed flip, accepted or not."""
        x, e, g, z = carry
        k_i, k_u = jax.random.split(key)
        logits = -(g * self._flip_delta(x)) / 2.0
        i = jax.random.categorical(k_i, logits)
        x_new = x.at[i].add(self._flip_delta(x)[i])
        e_new, g_new = self._energy_and_grad(z, x_new)
        logits_new = -(g_new * self._flip_delta(x_new)) / 2.0
        log_acc = (e - e_new) + jax.nn.log_softmax(logits_new)[i] - jax.nn.log_softmax(logits)[i]
        (x, e, g), acc, _ = mh_accept(jax.random.uniform(k_u), log_acc, jnp.isfinite(log_acc), (x_new, e_new, g_new),
                                      (x, e, g))
        return (x, e, g, z), acc


def build_update(target, steps: int | None = None) -> GibbsWithGradients:
    """The discrete core: ``update(key, z, d) -> (d, mean acceptance)``, ``steps`` flips a draw
    (default: one per element, a sweep's worth); its ``layout`` and ``steps`` are attributes."""
    return GibbsWithGradients(target, steps)
