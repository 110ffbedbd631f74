"""`ebmppl.sample`: draw chains from any model and return ArviZ InferenceData.

NUTS and HMC are NumPyro's, run on the model's NumPyro form (with NumPyro's
HMCGibbs for discrete variables). MALA, ULA, random-walk Metropolis, block
Gibbs and Gibbs-with-gradients are ebmppl kernels run by ``numpyro.infer.MCMC``.

``sample`` keeps the ``MCMC`` objects of its last few setups (model, params,
consts, sampler and layout): a repeated call with another seed or other
starting points runs the same compiled loop (with :mod:`._numpyro_jit`, which
stops NumPyro from retracing it on every run).
"""

from __future__ import annotations

import sys
import warnings
from typing import Optional

import jax
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer import HMC, MCMC, NUTS, HMCGibbs

from ..errors import EbmError
from ..setups import Setups, context, digest
from . import _numpyro_jit
from . import gibbs as gibbs_mod
from . import gwg as gwg_mod
from .kernel import EbmKernel
from .mala import MALA
from .rwmh import RWMH
from .target import Target
from .ula import ULA

_numpyro_jit.install()

CONTINUOUS_SAMPLERS = ("nuts", "hmc", "mala", "ula", "rwmh")
DISCRETE_SAMPLERS = ("gibbs", "gwg")
SAMPLERS = ("auto",) + CONTINUOUS_SAMPLERS + DISCRETE_SAMPLERS


def choose_sampler(model) -> tuple[str, str]:
    """(sampler, reason) for ``sampler="auto"``."""
    cont = [s for s in model.random if s.domain.continuous]
    disc = [s for s in model.random if s.domain.discrete]
    if cont and not disc:
        return "nuts", "all variables are continuous: NUTS"
    if disc and not cont:
        return "gibbs", "all variables are discrete: block Gibbs"
    return "nuts", "continuous and discrete variables: NUTS for the continuous, block Gibbs for the discrete"


def sample(model, params=None, data=None, sampler: str = "nuts", chains: int = 4, draws: int = 1000,
           warmup: int = 1000, thin: int = 1, key=0, init: Optional[dict] = None, progress: bool = True,
           chain_method: str = "vectorized", discrete: str = "gibbs", step_size: Optional[float] = None,
           adapt_mass: bool = True, target_accept: Optional[float] = None, gwg_steps: Optional[int] = None,
           consts: Optional[dict] = None, verbose: bool = True):
    """Sample a model's variables (and latents) at fixed params.

    Args:
        model: a :class:`~ebmppl.Model` (from :func:`ebmppl.load`, :func:`ebmppl.parse` or decorators).
        params: parameter values (default: ``model.init_params(0)``, with a warning when the model has params).
        data: consts to bind (dict or JSON path), if the model is not bound yet.
        sampler: ``auto``, ``nuts``, ``hmc``, ``mala``, ``ula``, ``rwmh``, ``gibbs`` or ``gwg``.
        chains, draws, warmup, thin: the MCMC layout; ``draws`` are kept after thinning.
        key: an int seed or a PRNG key.
        init: starting values (named, constrained; a leading chain axis is optional).
        progress: show NumPyro's progress bar.
        chain_method: ``vectorized`` (default), ``parallel`` (one device a chain) or ``sequential``.
        discrete: for mixed models with mala/ula/rwmh, the discrete move: ``gibbs`` or ``gwg``.
        step_size, target_accept, adapt_mass: kernel knobs (defaults per kernel).
        gwg_steps: Gibbs-with-gradients flips per draw (default: one per element).

    Returns:
        ``arviz.InferenceData`` with ``posterior`` (named dims from the declared shapes, lets,
        latents), ``sample_stats`` and ``constant_data``.
    """
    if data is not None:
        model = model.bind(data)
    if not model.is_bound:
        missing = [s.name for s in model.consts if s.name not in model.const_values and s.init is None]
        raise EbmError("data", f"the model's consts {', '.join(repr(m) for m in missing)} have no values",
                       hint="pass data= (a dict or a JSON file), or --data on the command line")
    if not model.random:
        raise EbmError("sample", "the model has no vars or latents to sample")
    if sampler not in SAMPLERS:
        raise EbmError("sample", f"unknown sampler '{sampler}'", hint=f"choose one of {', '.join(SAMPLERS)}")
    if chains < 1 or draws < 1 or warmup < 0 or thin < 1:
        raise EbmError("sample", "chains, draws and thin must be positive and warmup non-negative")
    reason = None
    if sampler == "auto":
        sampler, reason = choose_sampler(model)
        if verbose:
            print(f"sampler=auto: {reason}", file=sys.stderr)
    if params is None and model.params:
        warnings.warn("sampling at the model's initial params (pass params= for fitted ones)", stacklevel=2)
    skey = None  # a kept MCMC object holds its last draws: runs this large are not kept (compiling is cheap beside them)
    if chains * draws * sum(int(np.prod(model.lowered.shapes[s.name], dtype=np.int64)) for s in model.random) \
            <= _KEEP_MAX_NUMBERS:
        skey = _setup_key(model, params, consts, sampler, chains, draws, warmup, thin, chain_method, discrete,
                          step_size, adapt_mass, target_accept, gwg_steps, progress)
    kept = _SETUPS.get(skey, model)
    # the same setup as a recent call: its target and compiled loop
    target, setup = kept if kept is not None else (Target(model, params, consts), {})
    if sampler in CONTINUOUS_SAMPLERS and target.dim == 0:
        raise EbmError("sample", f"{sampler} moves continuous variables, and the model has none",
                       hint="use sampler='gibbs' or 'gwg' (or 'auto')")
    if sampler in DISCRETE_SAMPLERS and not target.disc:
        raise EbmError("sample", f"{sampler} moves discrete variables, and the model has none",
                       hint="use sampler='nuts', 'mala', 'hmc', 'rwmh' or 'ula' (or 'auto')")
    if sampler in ("nuts", "hmc") and target.disc and init is not None:
        raise EbmError("sample", f"init= is not supported for {sampler} on a model with discrete variables",
                       hint="use sampler='mala' (with Gibbs for the discrete part), or leave init=None")
    rng = jax.random.PRNGKey(key) if isinstance(key, int) else key
    k_init, k_run = jax.random.split(rng)
    if sampler in ("nuts", "hmc"):
        samples, stats = _run_numpyro(model, target, sampler, chains, draws, warmup, thin, k_init, k_run, init,
                                      progress, chain_method, step_size, target_accept, adapt_mass, setup)
        note = None
    else:
        samples, stats, note = _run_ebm(target, sampler, chains, draws, warmup, thin, k_init, k_run, init,
                                        progress, chain_method, discrete, step_size, adapt_mass, target_accept,
                                        gwg_steps, setup)
    if kept is None:
        _SETUPS.put(skey, model, (target, setup))
    if note and verbose:
        print(f"note: {note}", file=sys.stderr)
    return _to_idata(model, target, samples, stats, sampler, note, reason, target_accept)


# ------------------------------------------------------------ NumPyro kernels
def _run_numpyro(model, target, sampler, chains, draws, warmup, thin, k_init, k_run, init, progress,
                 chain_method, step_size, target_accept, adapt_mass, setup):
    """``setup``: the MCMC object of an earlier call with this setup ({} to build one; it is filled in)."""
    if "mcmc" not in setup:
        nmodel = model.numpyro_model(target.params, target.consts)
        opts = {"dense_mass": False, "adapt_mass_matrix": adapt_mass}
        if step_size is not None:
            opts["step_size"] = step_size
        if target_accept is not None:
            opts["target_accept_prob"] = target_accept
        inner = NUTS(nmodel, **opts) if sampler == "nuts" else HMC(nmodel, **opts)
        if target.disc:
            upd = gibbs_mod.build_update(target)
            cont_names = [s.name for s in target.cont]

            def gibbs_fn(rng_key, gibbs_sites, hmc_sites):
                u = target.low.to_unconstrained({n: hmc_sites[n] for n in cont_names})
                z, _ = ravel_pytree(u)
                return upd(rng_key, z, gibbs_sites)[0]
            kernel = HMCGibbs(inner, gibbs_fn=gibbs_fn, gibbs_sites=[s.name for s in target.disc])
        else:
            kernel = inner
        fields = ("diverging", "accept_prob", "num_steps", "adapt_state.step_size", "energy", "potential_energy")
        if target.disc and chain_method == "vectorized" and chains > 1:
            chain_method = jax.vmap  # NumPyro's Gibbs composite takes vmap as a callable chain method
        if target.disc:  # NumPyro's Gibbs composite exposes the HMC block's state as `hmc_state`
            fields = tuple(f"hmc_state.{f}" for f in fields)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="There are not enough devices")
            setup["mcmc"] = MCMC(kernel, num_warmup=warmup, num_samples=draws * thin, thinning=thin,
                                 num_chains=chains, chain_method=chain_method,
                                 progress_bar=progress and chain_method != jax.vmap)
        setup["fields"] = fields
    mcmc, fields = setup["mcmc"], setup["fields"]
    init_params = None
    if not target.disc and init is not None:
        z, _ = target.initial_points(k_init, chains, init)
        init_params = jax.vmap(target.unravel)(z)
        if chains == 1:
            init_params = jax.tree_util.tree_map(lambda a: a[0], init_params)
    # else NumPyro draws uniform(-2, 2) starts and retries non-finite ones itself (as Target does)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There are not enough devices")
        try:
            mcmc.run(k_run, init_params=init_params, extra_fields=fields)
        except RuntimeError as e:
            if "valid initial" not in str(e):
                raise
            target.initial_points(k_init, chains, None)  # raises the error that names the factor
            raise
    samples = mcmc.get_samples(group_by_chain=True)
    ef = {k.replace("hmc_state.", ""): v for k, v in mcmc.get_extra_fields(group_by_chain=True).items()}
    stats = {}
    if ef:
        stats = {"diverging": ef["diverging"], "acceptance_rate": ef["accept_prob"], "n_steps": ef["num_steps"],
                 "tree_depth": np.floor(np.log2(np.asarray(ef["num_steps"]) + 1)).astype(int),
                 "step_size": ef["adapt_state.step_size"], "energy": ef["energy"],
                 "lp": -np.asarray(ef["potential_energy"])}
    return {k: np.asarray(v) for k, v in samples.items()}, stats


# --------------------------------------------------------------- our kernels
def _run_ebm(target, sampler, chains, draws, warmup, thin, k_init, k_run, init, progress, chain_method,
             discrete, step_size, adapt_mass, target_accept, gwg_steps, setup):
    """``setup``: the kernel and MCMC object of an earlier call with this setup ({} to build them)."""
    if "mcmc" not in setup:
        disc_update = None
        if target.disc:
            kind = sampler if sampler in DISCRETE_SAMPLERS else discrete
            if kind not in DISCRETE_SAMPLERS:
                raise EbmError("sample", f"unknown discrete move '{discrete}'", hint="choose gibbs or gwg")
            disc_update = gibbs_mod.build_update(target) if kind == "gibbs" else gwg_mod.build_update(target,
                                                                                                      gwg_steps)
        if sampler in DISCRETE_SAMPLERS:
            if target.dim > 0:
                kernel = MALA(target, **_knobs(step_size, target_accept, adapt_mass, 0.1), discrete=disc_update)
            else:
                kernel = EbmKernel(target, None, discrete=disc_update)
        elif sampler == "mala":
            kernel = MALA(target, **_knobs(step_size, target_accept, adapt_mass, 0.1), discrete=disc_update)
        elif sampler == "rwmh":
            kernel = RWMH(target, **_knobs(step_size, target_accept, adapt_mass, 0.5), discrete=disc_update)
        else:
            kernel = ULA(target, step_size=step_size if step_size is not None else 0.01, discrete=disc_update)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="There are not enough devices")
            setup["mcmc"] = MCMC(kernel, num_warmup=warmup, num_samples=draws * thin, thinning=thin,
                                 num_chains=chains, chain_method=chain_method, progress_bar=progress)
        setup.update(kernel=kernel, disc_update=disc_update, values=jax.jit(jax.vmap(jax.vmap(target.values))))
    mcmc, kernel, disc_update = setup["mcmc"], setup["kernel"], setup["disc_update"]
    z, d = target.initial_points(k_init, chains, init)
    init_params = {"z": z, "d": d}
    if chains == 1:
        init_params = jax.tree_util.tree_map(lambda a: a[0], init_params)
    fields = ("accept_prob", "diverging", "step_size", "logdensity", "discrete_accept")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There are not enough devices")
        mcmc.run(k_run, init_params=init_params, extra_fields=fields)
    ef = mcmc.get_extra_fields(group_by_chain=True)
    pos = mcmc.get_samples(group_by_chain=True)
    values = setup["values"](pos["z"], pos["d"])
    stats = {"lp": ef["logdensity"], "diverging": ef["diverging"]}
    if target.dim > 0:
        stats["acceptance_rate"] = ef["accept_prob"]
        stats["step_size"] = ef["step_size"]
    if disc_update is not None and sampler != "gibbs" and (discrete == "gwg" or sampler == "gwg"):
        stats["discrete_acceptance_rate"] = ef["discrete_accept"]
    return {k: np.asarray(v) for k, v in values.items()}, stats, kernel.note


# The targets and MCMC objects of the last few setups: another call with the same model object, params,
# consts, sampler and layout (another seed, other starting points) runs the compiled loop again.
_SETUPS = Setups(kept=4)
_KEEP_MAX_NUMBERS = 1 << 22  # chains x draws x values: a kept MCMC object holds its last run's draws (<= 16 MiB)


def _setup_key(model, params, consts, *layout) -> Optional[tuple]:
    """What a sample call's target and compiled loop depend on, or None when it cannot be keyed safely (a
    value that is not a numeric array). The model is keyed by identity (see ebmppl/setups.py); params
    and consts by a digest of their values."""
    values = digest(params, consts)
    if values is None:
        return None
    key = (id(model), values, *layout, *context())
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _knobs(step_size, target_accept, adapt_mass, default_step):
    out = {"step_size": step_size if step_size is not None else default_step, "adapt_mass": adapt_mass}
    if target_accept is not None:
        out["target_accept"] = target_accept
    return out


# ------------------------------------------------------------ InferenceData
def _dims(model, name, shape) -> list[str]:
    spec = None
    try:
        spec = model.spec(name)
    except KeyError:
        pass
    from ..dsl import ast as A
    out = []
    for i, n in enumerate(shape):
        d = spec.shape[i] if spec is not None and i < len(spec.shape) else None
        dim = d.id if isinstance(d, A.Name) else f"{name}_dim_{i}"
        while dim in out:  # xarray needs distinct dims: real[L, L] -> (L, L_1)
            dim = f"{dim}_1"
        out.append(dim)
    return out


def _to_idata(model, target, samples, stats, sampler, note, reason, target_accept=None):
    from .. import diagnostics
    low = target.low
    dims = {k: _dims(model, k, np.shape(v)[2:]) for k, v in samples.items()}
    used = {**low.const_env, **(target.consts or {})}
    const_data = {s.name: np.asarray(used[s.name]) for s in model.consts}
    for s in model.consts:
        dims[s.name] = _dims(model, s.name, np.shape(const_data[s.name]))
    attrs = {"sampler": sampler, "model": model.name, "fingerprint": model.fingerprint,
             "inference_library": "ebmppl"}
    # a scalar size const (J) names a dim; xarray cannot hold a variable of the same name: keep it in attrs
    dim_names = {d for ds in dims.values() for d in ds}
    for name in [n for n in const_data if n in dim_names and np.ndim(const_data[n]) == 0]:
        attrs[f"const_{name}"] = const_data.pop(name).item()
        dims.pop(name, None)
    if note:
        attrs["note"] = note
    if reason:
        attrs["sampler_choice"] = reason
    if target_accept is not None:  # what diagnose checks the acceptance against
        attrs["target_accept"] = float(target_accept)
    stats = {k: np.asarray(v) for k, v in stats.items()}
    return diagnostics.to_inference_data(samples, stats, const_data, dims, attrs)
