"""Observations, pointwise log-likelihoods and predictive draws of a model's observed sites, as the ArviZ
groups ``observed_data``, ``log_likelihood``, ``prior``, ``prior_predictive`` and ``posterior_predictive``.

The sites are those of :meth:`Model.numpyro_model` (``y ~ dist`` on a const is ``numpyro.sample("y", dist,
obs=y)``); the draws and log-likelihoods are NumPyro's :class:`~numpyro.infer.Predictive` and
:func:`~numpyro.infer.log_likelihood` on that model.
"""

from __future__ import annotations

import warnings
from typing import Optional

import jax
import numpy as np
from numpyro.infer import Predictive
from numpyro.infer import log_likelihood as _numpyro_log_likelihood

from .. import diagnostics
from ..errors import EbmError
from ..model.admit import require
from .options import prng_key
from .values import check_consts, check_params


LOG_LIKELIHOOD_LIMIT = 1 << 27  # observations x draws a run's log_likelihood group may keep (512 MiB of float32)


def log_likelihood(nmodel, samples: dict) -> dict:
    """name -> log p(y_i | draw), shaped (chains, draws, *batch of y), for each observed site of ``nmodel`` (a
    model from :meth:`Model.numpyro_model`; ``samples`` its vars' draws shaped (chains, draws, ...))."""
    names = nmodel.sites.observed
    if not names:
        return {}
    chains = {s: [] for s in names}
    for c in range(np.shape(next(iter(samples.values())))[0]):  # a chain at a time: its draws vectorized
        ll = _numpyro_log_likelihood(nmodel, {k: v[c] for k, v in samples.items()}, parallel=True)
        for n in names:
            chains[n].append(np.asarray(ll[n]))
    return {n: np.stack(v) for n, v in chains.items()}


def observation_groups(model, target, samples: dict) -> dict:
    """The ``observed_data`` and ``log_likelihood`` groups of a run's draws (``target``: the run's
    :class:`~ebmppl.infer.target.Target`): {group: (arrays, dims)}; {} for a model without observed consts, or
    one NumPyro cannot express (with a warning)."""
    try:
        nmodel = model.numpyro_model(target.params, target.consts)
        if not nmodel.sites.observed:
            return {}
        _check_size(model, nmodel, target.consts, int(np.prod(np.shape(samples[model.random[0].name])[:2])))
        return _observation_groups(model, nmodel, samples, target.consts)
    except EbmError as e:
        warnings.warn(f"no log_likelihood group: {e.message}", UserWarning, stacklevel=3)
        return {}


def _check_size(model, nmodel, consts, draws: int) -> None:
    """``draws`` values of every observation fit in memory (else ``error[limit]``)."""
    data = {**model.lowered.const_env, **(consts or {})}
    n = sum(int(np.size(data[o])) for o in nmodel.sites.observed)
    if n * draws > LOG_LIKELIHOOD_LIMIT:
        raise EbmError("limit", f"{n} observations at {draws} draws would keep {n * draws:.3g} numbers (the limit "
                                f"is {LOG_LIKELIHOOD_LIMIT:.3g})", hint="thin the draws, or draw fewer")


def _observation_groups(model, nmodel, samples: dict, consts) -> dict:
    from .idata import dims_of as _dims
    data = {**model.lowered.const_env, **(consts or {})}
    obs = {n: np.asarray(data[n]) for n in nmodel.sites.observed}
    ll = log_likelihood(nmodel, {s.name: samples[s.name] for s in model.random})
    obs_dims = {n: _dims(model, n, np.shape(v)) for n, v in obs.items()}
    ll_dims = {n: obs_dims[n][: np.ndim(v) - 2] for n, v in ll.items()}
    return {"observed_data": (obs, obs_dims), "log_likelihood": (ll, ll_dims)}


def predict(model, idata, params=None, data=None, consts: Optional[dict] = None, *, posterior: bool = True,
            prior: bool = False, prior_draws: Optional[int] = None, key=0):
    """Predictive draws of a model's observed consts, added to ``idata`` as ArviZ groups.

    Args:
        model: the :class:`~ebmppl.Model` the draws came from (bound to its data, or ``data=``).
        idata: ``arviz.InferenceData`` from :func:`ebmppl.sample`.
        params, data, consts: as for :func:`ebmppl.sample` (the same values the draws used).
        posterior: add ``posterior_predictive``: each observed const drawn at every posterior draw.
        prior: add ``prior`` (the vars and lets) and ``prior_predictive`` (the observed consts) drawn from the
            prior; every var needs a `~` whose distribution is its prior (a generative model).
        prior_draws: the number of prior draws (default: as many as the posterior holds), one chain.
        key: an int seed or a PRNG key.

    Returns:
        A new ``arviz.InferenceData``: ``idata`` with the groups asked for (and ``observed_data`` and
        ``log_likelihood`` when missing).

    Example:
        >>> idata = ebmppl.predict(model, ebmppl.sample(model), prior=True)
        >>> az.plot_ppc(idata)
    """
    if data is not None:
        model = model.bind(data)
    if not model.is_bound:
        raise EbmError("data", "the model's consts have no values", hint="pass data= (a dict or a JSON file)")
    check_params(model, params)
    check_consts(model, consts)
    if prior_draws is not None:
        prior_draws = require(prior_draws, "size", what="prior_draws=")
    if params is None and model.params:
        warnings.warn("predicting at the model's initial params (pass params= for fitted ones)", stacklevel=2)
        params = model.init_params(0)
    post = getattr(idata, "posterior", None)
    if post is None:
        raise EbmError("sample", "the InferenceData has no posterior group", hint="pass the output of ebmppl.sample")
    if post.attrs.get("fingerprint") not in (None, model.fingerprint):
        raise EbmError("data", f"the draws are of model '{post.attrs.get('model')}', not of '{model.name}'",
                       hint="pass the model the draws came from")
    nmodel = model.numpyro_model(params, consts)
    names = nmodel.sites.observed
    if not names:
        raise EbmError("sample", "the model has no observed consts (no `y ~ dist(...)` on a const)",
                       hint="a predictive draw needs data the model generates: write `y ~ dist(...)` for const y")
    missing = [s.name for s in model.random if s.name not in post]
    if missing:
        raise EbmError("data", f"the posterior has no draws of '{missing[0]}'",
                       hint="pass the model the draws came from")
    samples = {s.name: np.asarray(post[s.name].values) for s in model.random}
    _check_size(model, nmodel, consts, int(post.sizes["chain"] * post.sizes["draw"]))
    k_post, k_prior = jax.random.split(prng_key(key))
    groups = {}
    if "log_likelihood" not in idata.groups():
        groups.update(_observation_groups(model, nmodel, samples, consts))
    if posterior:
        pp = Predictive(nmodel, samples, batch_ndims=2, return_sites=list(names))(k_post, **dict.fromkeys(names))
        groups["posterior_predictive"] = _with_dims(model, pp)
    if prior:
        _check_generative(model, nmodel)
        n = prior_draws or int(post.sizes["chain"] * post.sizes["draw"])
        _check_size(model, nmodel, consts, n)
        pr = Predictive(nmodel, num_samples=n)(k_prior, **dict.fromkeys(names))
        pr = {k: np.asarray(v)[None] for k, v in pr.items()}
        groups["prior"] = _with_dims(model, {k: v for k, v in pr.items() if k not in names})
        groups["prior_predictive"] = _with_dims(model, {k: pr[k] for k in names})
    return diagnostics.add_groups(idata, groups)


def _with_dims(model, arrays: dict) -> tuple:
    from .idata import dims_of as _dims
    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    return arrays, {k: _dims(model, k, v.shape[2:]) for k, v in arrays.items()}


def _check_generative(model, nmodel) -> None:
    """The prior is the model's sites alone: every var has a proper site and no other term remains."""
    plan = nmodel.sites
    flat = plan.flat(model.lowered)
    if flat:
        s = model.spec(flat[0])
        raise EbmError("sample", f"{s.role} '{s.name}' has no `~` whose distribution is its prior (its domain "
                                 f"{s.domain} must be the distribution's support, and no other term may read it), so "
                                 f"the prior cannot be drawn", s.span,
                       f"give {s.name} a prior on its whole domain (e.g. a positive var: `~ half_cauchy(5)` rather "
                       f"than `~ cauchy(0, 5)`)")
    if plan.terms:
        from ..model.lower.sites import top_terms
        node = top_terms(model.lowered)[plan.terms[0]]
        name = getattr(node, "name", type(node).__name__.lower())
        raise EbmError("sample", f"the term '{name}' is not a `~` of a var or an observed const, so the prior "
                                 f"(the model without data) cannot be drawn", None,
                       "write the model generatively (each var and observed const by one `~`) to draw its prior")
