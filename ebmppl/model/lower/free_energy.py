"""Free energies: the latents summed out, F(v) = −log Σ_h exp(−E(v, h)).

The plan is decided once per model: no latents (F = E); two-state latents the energy is affine in
(a closed form, :func:`~ebmppl.model.affine.log_sum_affine`); few enough finite states (enumerated);
otherwise an error that says why and what to do instead.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

import jax
import numpy as np
from jax import lax
from jax.scipy.special import logsumexp

from ...errors import EbmError
from ..affine import enumerate_states, is_affine_in, log_sum_affine

if TYPE_CHECKING:
    from .lowered import Lowered

ENUMERATION_LIMIT = 2 ** 16
_MAP_BATCH = 4096  # joint states per lax.map step, above which vmap would hold them all at once


class Plan(NamedTuple):
    """How latents are summed out: ``method`` 'none', 'analytic', 'enumerate' or 'error', and why."""

    method: str
    why: str


def plan_free_energy(low: "Lowered") -> Plan:
    """The method that sums out ``low``'s latents, with its explanation (or the reason none does)."""
    latents = low.model.latents
    if not latents:
        return Plan("none", "no latents: the free energy is the energy")
    cont = [s for s in latents if s.domain.continuous]
    if cont:
        return Plan("error", f"latent '{cont[0].name}' is continuous and cannot be summed out; "
                             f"sample it instead (ebmppl.sample keeps latents in the chains)")
    unbounded = [s for s in latents if not s.domain.row.finite]
    if unbounded:
        return Plan("error", f"latent '{unbounded[0].name}' is an unbounded int and cannot be summed out; "
                             f"give it a finite domain (binary, spin, categorical(K))")
    if all(s.domain.row.two_state for s in latents):
        params = low.init_params(0)
        if is_affine_in(lambda v: low.energy(params, v), low.example_values(), [s.name for s in latents]):
            what = ", ".join(f"{s.domain.kind} '{s.name}'" for s in latents)
            return Plan("analytic", f"summed out analytically: the energy is affine in {what}")
    states = 1
    for s in latents:
        k = s.domain.row.n_states(low.domain_args[s.name])
        states *= k ** int(np.prod(low.shapes[s.name], dtype=np.int64))
    if states <= ENUMERATION_LIMIT:
        return Plan("enumerate", f"summed out by enumerating {states} joint latent states")
    n = sum(int(np.prod(low.shapes[s.name])) for s in latents)
    return Plan("error", f"the latents have {_fmt_states(states)} joint states ({n} values) and the energy is not "
                         f"affine in binary/spin latents, so they cannot be summed out exactly; "
                         f"sample them instead (ebmppl.sample)")


def _fmt_states(n: int) -> str:
    """``2^20``, ``3.49e+15`` or ``about 10^477`` (a Python int too large for a float)."""
    b = math.log2(n)
    if abs(b - round(b)) < 1e-9:
        return f"2^{b:.0f}"
    return f"{n:.3g}" if b < 1000 else f"about 10^{math.log10(n):.0f}"


def free_energy(low: "Lowered", plan: Plan, params, visible, consts=None):
    """F(visible) by ``plan``; raises the plan's error where the latents cannot be summed out."""
    method, why = plan
    if method == "none":
        return low.energy(params, visible, consts)
    if method == "error":
        span = low.model.latents[0].span if low.model.latents else None
        raise EbmError("free-energy", why, span)
    latents = low.model.latents
    if method == "analytic":
        return -log_sum_affine(lambda h: low.energy(params, {**visible, **h}, consts), latents, low.shapes)
    configs, _ = enumerate_states(latents, low.shapes, low.domain_args)

    def neg_e(cfg):
        return -low.energy(params, {**visible, **cfg}, consts)
    n = next(iter(configs.values())).shape[0]
    if n > _MAP_BATCH:
        vals = lax.map(neg_e, configs, batch_size=_MAP_BATCH)
    else:
        vals = jax.vmap(neg_e)(configs)
    return -logsumexp(vals)
