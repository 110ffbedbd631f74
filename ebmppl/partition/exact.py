"""Exact log Z of a discrete model: enumerate the smallest set of variables given which the energy is affine in
the rest, and sum the rest analytically.

log Z = log Σ_x exp(−E(x)) over every var and latent. The variables are split into an enumerated set S and a
summed set R such that the energy is affine in R given S (checked on the jaxpr, as for free energies); then

    Z = Σ_S exp(−E(S, R=0)) Π_r (1 + exp(−g_r))   (binary r; 2 cosh g_r for spin),  g = ∂E/∂R at R = 0,

so a 64×16 RBM costs 2^16 terms, not 2^80. A term that is NaN or +inf (an energy of −inf: an infinite
density) is refused, as is a model whose every state has energy +inf (Z = 0): the model looks improper.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
from jax.scipy.special import logsumexp

from ..errors import EbmError
from ..infer.values import check_consts, check_params
from ..model.admit import require
from ..model.affine import enumerate_states, is_affine_in, log_sum_affine
from ..model.normalizer import LogZ
from ..settings import ensure_compile_cache
from . import improper
from ..vocabulary import knob

EXACT_LIMIT = 2 ** 24


class TooManyStates(EbmError):
    """Exact enumeration would need more than EXACT_LIMIT states (``logz(method="auto")`` then uses AIS)."""


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
        raise TooManyStates("logz", f"exact enumeration needs {cost:.3g} states (limit 2^24)",
                            hint=f"use {knob('method', 'ais')}")
    return enum, summed


def logz_exact(model, params=None, consts=None, chunk: int = 4096) -> LogZ:
    """log Z by enumeration, summing analytically over variables the energy is affine in."""
    ensure_compile_cache()
    chunk = require(chunk, "size", what="chunk=")
    low = model.lowered
    check_params(model, params)
    check_consts(model, consts)
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
        terms = jax.numpy.atleast_1d(jax.jit(log_term)({}))
    _check_terms(model, params, consts, np.asarray(terms), configs, summed)
    value = float(logsumexp(terms))
    detail = (f"enumerated {total} states of {', '.join(s.name for s in enum) or 'nothing'}"
              + (f"; summed {', '.join(s.name for s in summed)} analytically" if summed else ""))
    return LogZ(value, 0.0, "exact", detail)


def _check_terms(model, params, consts, terms: np.ndarray, configs: dict, summed: list) -> None:
    """Every term log Σ_R exp(−E(S, R)) is a number below +inf, and not every one is −inf."""
    bad = np.flatnonzero(np.isnan(terms) | (terms == np.inf))
    if len(bad):
        i = int(bad[0])
        state = {name: np.asarray(v[i]) for name, v in configs.items()}
        low = model.lowered
        full = {**state, **{s.name: np.asarray(low.example_values()[s.name]) for s in summed}}
        raise improper.nonfinite_state(model, params, consts, state, full, float(-terms[i]), len(bad), len(terms),
                                       summed=[s.name for s in summed])
    if len(terms) and np.all(terms == -np.inf):
        raise EbmError("logz", f"the model looks improper: its density is zero at every state (the energy is +inf "
                               f"at all {len(terms)} states enumerated), so Z = 0 and log Z = -inf",
                       hint="check the factors: at least one state must have a finite energy")
