"""`ebmppl.sample`: draw chains from any model and return ArviZ InferenceData.

NUTS and HMC are NumPyro's, run on the model's NumPyro form (with NumPyro's
HMCGibbs for discrete variables). MALA, ULA, random-walk Metropolis, block
Gibbs and Gibbs-with-gradients are ebmppl kernels run by ``numpyro.infer.MCMC``.

``sample`` keeps the ``MCMC`` objects of its last few setups (model, params,
consts, sampler, layout and kernel options): a repeated call with another seed
or other starting points runs the same compiled loop (each run inside
:func:`._numpyro_jit.memoized`, which stops NumPyro from retracing it).
"""

from __future__ import annotations

import sys
import warnings
from typing import Optional

import jax
import numpy as np
from jax.flatten_util import ravel_pytree
from numpyro.infer import HMC, MCMC, NUTS, HMCGibbs

from ..distributed import chain_share, gather_chains
from ..settings import ensure_compile_cache
from ..errors import EbmError
from ..progress import status
from ..vocabulary import current, knob, knobs, value
from ..setups import Setups, context, digest
from . import _numpyro_jit
from . import gibbs as gibbs_mod
from . import gwg as gwg_mod
from . import precision
from .idata import to_idata as _to_idata
from .kernel import EbmKernel
from .mala import MALA
from .options import KernelOptions, Layout, prng_key, resolve
from .rwmh import RWMH
from .target import Target
from .tempering import ParallelTempering
from .ula import ULA
from .values import check_consts, check_params, check_values

CONTINUOUS_SAMPLERS = ("nuts", "hmc", "mala", "ula", "rwmh")
DISCRETE_SAMPLERS = ("gibbs", "gwg")
SAMPLERS = ("auto",) + CONTINUOUS_SAMPLERS + DISCRETE_SAMPLERS + ("pt",)  # pt: any model (MALA and/or Gibbs)


def choose_sampler(model) -> tuple[str, str]:
    """(sampler, reason) for ``sampler="auto"``."""
    cont = [s for s in model.random if s.domain.continuous]
    disc = [s for s in model.random if s.domain.discrete]
    if cont and not disc:
        return "nuts", "all variables are continuous: NUTS"
    if disc and not cont:
        return "gibbs", "all variables are discrete: block Gibbs"
    return "nuts", "continuous and discrete variables: NUTS for the continuous, block Gibbs for the discrete"


def sample(model, params=None, data=None, sampler: str = "auto", chains: Optional[int] = None,
           draws: Optional[int] = None, warmup: Optional[int] = None, thin: Optional[int] = None, key=0,
           init: Optional[dict] = None, progress: bool = True, chain_method: Optional[str] = None,
           discrete: Optional[str] = None, step_size=None, adapt_mass: Optional[bool] = None,
           target_accept: Optional[float] = None, gwg_steps: Optional[int] = None, consts: Optional[dict] = None,
           verbose: bool = True, *, adapt_step: Optional[bool] = None, layout: Optional[Layout] = None,
           kernel: Optional[KernelOptions] = None, temperatures: Optional[int] = None,
           max_temperature: Optional[float] = None, distributed: Optional[bool] = None):
    """Sample a model's variables (and latents) at fixed params.

    Args:
        model: a :class:`~ebmppl.Model` (from :func:`ebmppl.load`, :func:`ebmppl.parse` or decorators).
        params: parameter values (default: ``model.init_params(0)``, with a warning when the model has params).
        data: consts to bind (dict or JSON path), if the model is not bound yet.
        sampler: ``auto`` (default, as on the command line: NUTS for continuous models, block Gibbs for
            discrete ones, both for mixed ones), ``nuts``, ``hmc``, ``mala``, ``ula``, ``rwmh``, ``gibbs``,
            ``gwg`` or ``pt`` (parallel tempering, :mod:`.tempering`).
        chains, draws, warmup, thin, chain_method: the MCMC layout (defaults 4, 1000, 1000, 1,
            ``vectorized``; see :class:`Layout`); ``draws`` are kept after thinning. ``chain_method``:
            ``vectorized``, ``parallel`` (one device a chain) or ``sequential``.
        key: an int seed or a PRNG key.
        init: starting values (named, constrained; a leading chain axis is optional).
        progress: show NumPyro's progress bar.
        discrete: for mixed models with mala/ula/rwmh, the discrete move: ``gibbs`` (default) or ``gwg``.
        step_size, target_accept, adapt_step, adapt_mass: kernel knobs (defaults per kernel; see
            :class:`KernelOptions`).
        gwg_steps: Gibbs-with-gradients flips per draw (default: one per element).
        temperatures, max_temperature: ``pt``'s number of replicas (8) and hottest temperature (10).
        consts: const overrides at call time.
        verbose: print ``sampler=auto`` choices and sampler notes to stderr.
        layout, kernel: the layout and kernel knobs as :class:`Layout` and :class:`KernelOptions`, instead of
            the plain keywords (a knob given both ways is an error).
        distributed: share the chains between the processes of a multi-process run (:mod:`ebmppl.distributed`;
            default: when there is one); every process returns all the chains, as a single-process run would.

    Returns:
        ``arviz.InferenceData`` with ``posterior`` (named dims from the declared shapes, lets,
        latents), ``sample_stats`` and ``constant_data``.

    Example:
        >>> idata = ebmppl.sample(model, sampler="mala", layout=Layout(chains=2, draws=200))
    """
    lay, kopt = resolve(layout, kernel, dict(
        chains=chains, draws=draws, warmup=warmup, thin=thin, chain_method=chain_method, step_size=step_size,
        target_accept=target_accept, adapt_step=adapt_step, adapt_mass=adapt_mass, discrete=discrete,
        gwg_steps=gwg_steps, temperatures=temperatures, max_temperature=max_temperature))
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise EbmError("sample", f"unknown sampler '{sampler}'", hint=f"choose one of {', '.join(SAMPLERS)}")
    rng = prng_key(key)
    model = _checked_model(model, data, sampler, lay)
    check_params(model, params)
    check_consts(model, consts)
    if init is not None:
        check_values(model, init, model.random, "init", chain_axis=True, complete=True, chains=lay.chains)
    reason = None
    if sampler == "auto":
        sampler, reason = choose_sampler(model)
        if verbose:
            print(f"sampler=auto: {reason}", file=sys.stderr)
    if params is None and model.params:
        warnings.warn(f"sampling at the model's initial params (pass {knob('params')} for fitted ones)",
                      stacklevel=2)
    ensure_compile_cache()
    part = chain_share(lay.chains, distributed)  # None, or the chains [lo, hi) this process runs
    # a kept MCMC object lets go of its draws once they are read (_take_draws): any size of run is kept
    skey = _setup_key(model, params, consts, sampler, lay, kopt, progress, part)
    kept = _SETUPS.get(skey, model)
    # the same setup as a recent call: its target and compiled loop
    target, setup = kept if kept is not None else (Target(model, params, consts), {})
    _check_target(target, sampler, init)
    samples, stats, note = _draw(model, target, sampler, lay, kopt, rng, init, progress, setup, part)
    if kept is None:
        _SETUPS.put(skey, model, (target, setup))
    if note and verbose:
        print(f"note: {note}", file=sys.stderr)
    _check_draws(model, samples, sampler)
    return _to_idata(model, target, samples, stats, sampler, note, reason, kopt.target_accept)


def _draw(model, target, sampler, lay: Layout, kopt: KernelOptions, rng, init, progress, setup, part):
    """(draws, sample statistics, the kernel's note) of all the chains: in a multi-process run, this process
    runs its share ``part`` and the shares are gathered."""
    k_init, k_run = jax.random.split(rng)
    if sampler in ("nuts", "hmc"):
        samples, stats = _run_numpyro(model, target, sampler, lay, kopt, k_init, k_run, init, progress, setup,
                                      part)
        note = None
    else:
        samples, stats, note = _run_ebm(target, sampler, lay, kopt, k_init, k_run, init, progress, setup, part)
    if part is not None:
        samples, stats = gather_chains(samples), gather_chains(stats)
    return samples, stats, note


def _checked_model(model, data, sampler: str, lay: Layout):
    """The model bound to ``data``, after the checks that need no target."""
    if data is not None:
        model = model.bind(data)
    if not model.is_bound:
        missing = [s.name for s in model.consts if s.name not in model.const_values and s.init is None]
        raise EbmError("data", f"the model's consts {', '.join(repr(m) for m in missing)} have no values",
                       hint="pass data= (a dict or a JSON file)" if current() == "python" else
                       "pass --consts CONSTS.json")
    if not model.random:
        raise EbmError("sample", "the model has no vars or latents to sample")
    steps = lay.warmup + lay.draws * lay.thin
    if steps > STEP_LIMIT:
        raise EbmError("limit", f"warmup + draws x thin = {steps:.3g} iterations a chain is more than the sampling loop "
                                f"counts ({STEP_LIMIT})", hint="draw fewer, thin less or warm up less")
    kept = lay.chains * lay.draws * sum(int(np.prod(model.lowered.shapes[s.name], dtype=np.int64))
                                        for s in model.random)
    if kept > KEEP_LIMIT:
        raise EbmError("limit", f"{lay.chains} chains x {lay.draws} draws of {kept // (lay.chains * lay.draws)} "
                                f"number(s) each would keep {kept:.3g} numbers (the limit is {KEEP_LIMIT:.3g}, about "
                                f"{KEEP_LIMIT * 4 >> 30} GiB)", hint=f"draw fewer ({knob('draws')}) or use fewer chains")
    return model


def _check_draws(model, samples: dict, sampler: str) -> None:
    """Draws of every var and latent are finite (a kernel that ran off to infinity is an error, never NaN draws);
    draws that reach astronomical values are warned about (a step too large, or an improper model whose chains
    drift away)."""
    for s in model.random:
        a = np.asarray(samples.get(s.name, 0.0))
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            chain, draw = (int(i) for i in bad[0][:2])
            raise EbmError("sample", f"the {sampler} draws of '{s.name}' are not finite ({a[tuple(bad[0])]} at chain "
                                     f"{chain}, draw {draw}; {len(bad)} values in all): the chains diverged",
                           s.span, f"use a smaller {knob('step_size')} (or {knob('sampler', 'mala')}, which rejects "
                                   f"such moves); if the model's density does not vanish far away (`ebmppl logz` "
                                   f"says so), no sampler can draw from it")
        big = float(np.max(np.abs(a))) if a.size else 0.0
        if big > HUGE_DRAW:
            warnings.warn(f"the {sampler} draws of '{s.name}' reach {big:.3g}: the chains ran away (a step size too "
                          f"large for the sampler, or a model whose density does not vanish far away: an improper "
                          f"model, which ebmppl.logz reports)", UserWarning, stacklevel=3)


def _check_target(target: Target, sampler: str, init) -> None:
    """The sampler can move the target's variables."""
    if sampler in CONTINUOUS_SAMPLERS and target.dim == 0:
        raise EbmError("sample", f"{sampler} moves continuous variables, and the model has none",
                       hint=f"use {knobs('sampler', 'gibbs', 'gwg')} (or {value('sampler', 'auto')})")
    if sampler in DISCRETE_SAMPLERS and not target.disc:
        raise EbmError("sample", f"{sampler} moves discrete variables, and the model has none",
                       hint=f"use {knobs('sampler', 'nuts', 'mala', 'hmc', 'rwmh', 'ula')} (or {value('sampler', 'auto')})")
    if sampler in ("nuts", "hmc") and target.disc and init is not None:
        raise EbmError("sample", f"init= is not supported for {sampler} on a model with discrete variables",
                       hint=f"use {knob('sampler', 'mala')} (with Gibbs for the discrete part), or leave init=None")


def _mcmc(kernel, lay: Layout, chain_method, progress: bool, part=None) -> MCMC:
    """``part``: the chains [lo, hi) this process runs (None: all)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There are not enough devices")
        return MCMC(kernel, num_warmup=lay.warmup, num_samples=lay.draws * lay.thin, thinning=lay.thin,
                    num_chains=lay.chains if part is None else part[1] - part[0], chain_method=chain_method,
                    progress_bar=progress)


def _chain_inputs(init_params, k_run, chains: int, part):
    """The starts and key(s) of this process's chains: of all ``chains`` or of the share ``part``. A shared
    run passes NumPyro its chains' keys, split from ``k_run`` as NumPyro splits it for all the chains, so
    chain c draws the same numbers whichever process runs it. One chain's start has no chain axis."""
    n = chains
    if part is not None:
        lo, hi = part
        n, k_run = hi - lo, jax.random.split(k_run, chains)[lo:hi]
        if init_params is not None:
            init_params = jax.tree_util.tree_map(lambda a: a[lo:hi], init_params)
        if n == 1:
            k_run = k_run[0]
    if n == 1 and init_params is not None:
        init_params = jax.tree_util.tree_map(lambda a: a[0], init_params)
    return init_params, k_run


def _run(mcmc: MCMC, k_run, init_params, fields) -> None:
    """``mcmc.run`` with NumPyro's jit wrappers memoized (for this run only) and its device warning quiet.

    With NumPyro's progress bar on, the sampler is compiled first (``MCMC._compile``: a run of no
    iterations, which NumPyro keeps the initial state of), under a "compiling…" line, so the bar's rate and
    ETA count sampling only (its first iteration would otherwise include the whole compilation)."""
    with _numpyro_jit.memoized(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="There are not enough devices")
        if not mcmc.progress_bar:
            mcmc.run(k_run, init_params=init_params, extra_fields=fields)
            return
        # _compile keeps its initial state by key alone (not init_params): kept for this run only
        mcmc._init_state_cache.clear()
        try:
            status("sample: compiling…")
            mcmc._compile(k_run, init_params=init_params, extra_fields=fields)
            mcmc.run(k_run, init_params=init_params, extra_fields=fields)
        finally:
            mcmc._init_state_cache.clear()


def _take_draws(mcmc: MCMC) -> tuple:
    """(draws, extra fields) of the last run, grouped by chain. The MCMC object then lets go of them (NumPyro
    keeps a run's states until the next run), so a kept setup holds its compiled loop but no draws."""
    draws, extra = mcmc.get_samples(group_by_chain=True), mcmc.get_extra_fields(group_by_chain=True)
    mcmc._states = mcmc._states_flat = None
    return draws, extra


# ------------------------------------------------------------ NumPyro kernels
def _numpyro_kernel(model, target, sampler: str, kopt: KernelOptions):
    """NUTS or HMC on the model's NumPyro form; with discrete variables, inside HMCGibbs with ebmppl's sweep."""
    opts = {"dense_mass": False, "adapt_mass_matrix": kopt.adapt_mass, "adapt_step_size": kopt.adapt_step}
    if kopt.step_size is not None:
        opts["step_size"] = kopt.step_size
    if kopt.target_accept is not None:
        opts["target_accept_prob"] = kopt.target_accept
    nmodel = model.numpyro_model(target.params, target.consts)
    inner = NUTS(nmodel, **opts) if sampler == "nuts" else HMC(nmodel, **opts)
    if not target.disc:
        return inner
    upd = gibbs_mod.build_update(target)
    cont_names = [s.name for s in target.cont]

    def gibbs_fn(rng_key, gibbs_sites, hmc_sites):
        u = target.low.to_unconstrained({n: hmc_sites[n] for n in cont_names})
        z, _ = ravel_pytree(u)
        return upd(rng_key, z, gibbs_sites)[0]
    return HMCGibbs(inner, gibbs_fn=gibbs_fn, gibbs_sites=[s.name for s in target.disc])


def _run_numpyro(model, target, sampler, lay: Layout, kopt: KernelOptions, k_init, k_run, init, progress, setup,
                 part=None):
    """``setup``: the MCMC object of an earlier call with this setup ({} to build one; it is filled in)."""
    if "mcmc" not in setup:
        kernel = _numpyro_kernel(model, target, sampler, kopt)
        fields = ("diverging", "accept_prob", "num_steps", "adapt_state.step_size", "energy", "potential_energy")
        chain_method = lay.chain_method
        if target.disc and chain_method == "vectorized" and lay.chains > 1:
            chain_method = jax.vmap  # NumPyro's Gibbs composite takes vmap as a callable chain method
        if target.disc:  # NumPyro's Gibbs composite exposes the HMC block's state as `hmc_state`
            fields = tuple(f"hmc_state.{f}" for f in fields)
        setup["mcmc"] = _mcmc(kernel, lay, chain_method, progress and chain_method != jax.vmap, part)
        setup["fields"] = fields
    mcmc, fields = setup["mcmc"], setup["fields"]
    init_params = None
    if not target.disc and init is not None:
        z, _ = target.initial_points(k_init, lay.chains, init)
        init_params = jax.vmap(target.unravel)(z)
    # else NumPyro draws uniform(-2, 2) starts and retries non-finite ones itself (as Target does)
    init_params, k_run = _chain_inputs(init_params, k_run, lay.chains, part)
    try:
        _run(mcmc, k_run, init_params, fields)
    except RuntimeError as e:
        if "valid initial" not in str(e):
            raise
        target.initial_points(k_init, lay.chains, None)  # raises the error that names the factor
        raise
    samples, ef = _take_draws(mcmc)
    ef = {k.replace("hmc_state.", ""): v for k, v in ef.items()}
    stats = {}
    if ef:
        stats = {"diverging": ef["diverging"], "acceptance_rate": ef["accept_prob"], "n_steps": ef["num_steps"],
                 "tree_depth": np.floor(np.log2(np.asarray(ef["num_steps"]) + 1)).astype(int),
                 "step_size": ef["adapt_state.step_size"], "energy": ef["energy"],
                 "lp": -np.asarray(ef["potential_energy"])}
    precision.check(sampler, stats, mcmc)  # float32 NUTS/HMC out of digits: say --x64
    return {k: np.asarray(v) for k, v in samples.items()}, stats


# --------------------------------------------------------------- our kernels
def _discrete_move(target, sampler: str, kopt: KernelOptions):
    """The discrete core of a model with discrete variables (None without)."""
    if not target.disc:
        return None
    move = sampler if sampler in DISCRETE_SAMPLERS else kopt.discrete
    if move not in DISCRETE_SAMPLERS:
        raise EbmError("sample", f"unknown discrete move '{kopt.discrete}'", hint="choose gibbs or gwg")
    if move == "gibbs":
        return gibbs_mod.build_update(target)
    return gwg_mod.build_update(target, kopt.gwg_steps)


def _ebm_kernel(target, sampler: str, kopt: KernelOptions, disc_update) -> EbmKernel:
    """The ebmppl kernel of ``sampler`` (gibbs and gwg move a mixed model's continuous variables by MALA; pt
    runs replicas of MALA and/or the discrete move)."""
    if sampler == "pt":
        base = _ebm_kernel(target, "gibbs" if target.dim == 0 else "mala", kopt, disc_update)
        return ParallelTempering(base, kopt.temperatures or 8, kopt.max_temperature or 10.0)
    if sampler in DISCRETE_SAMPLERS and target.dim == 0:
        return EbmKernel(target, None, discrete=disc_update)
    if sampler in DISCRETE_SAMPLERS or sampler == "mala":
        return MALA(target, **_knobs(kopt, 0.1), discrete=disc_update)
    if sampler == "rwmh":
        return RWMH(target, **_knobs(kopt, 0.5), discrete=disc_update)
    return ULA(target, step_size=kopt.step_size if kopt.step_size is not None else 0.01, discrete=disc_update)


def _run_ebm(target, sampler, lay: Layout, kopt: KernelOptions, k_init, k_run, init, progress, setup, part=None):
    """``setup``: the kernel and MCMC object of an earlier call with this setup ({} to build them)."""
    if "mcmc" not in setup:
        disc_update = _discrete_move(target, sampler, kopt)
        kernel = _ebm_kernel(target, sampler, kopt, disc_update)
        setup.update(mcmc=_mcmc(kernel, lay, lay.chain_method, progress, part), kernel=kernel, disc_update=disc_update,
                     values=jax.jit(jax.vmap(jax.vmap(target.values))))
    mcmc, kernel, disc_update = setup["mcmc"], setup["kernel"], setup["disc_update"]
    z, d = target.initial_points(k_init, lay.chains, init)
    init_params, k_run = _chain_inputs({"z": z, "d": d}, k_run, lay.chains, part)
    pt = ("swap_accept", "betas") if sampler == "pt" else ()
    _run(mcmc, k_run, init_params, ("accept_prob", "diverging", "step_size", "logdensity", "discrete_accept") + pt)
    pos, ef = _take_draws(mcmc)
    values = setup["values"](pos["z"], pos["d"])
    stats = {"lp": ef["logdensity"], "diverging": ef["diverging"]}
    if target.dim > 0:
        stats["acceptance_rate"] = ef["accept_prob"]
        stats["step_size"] = ef["step_size"]
    if disc_update is not None and sampler != "gibbs" and (kopt.discrete == "gwg" or sampler == "gwg"):
        stats["discrete_acceptance_rate"] = ef["discrete_accept"]
    if pt:  # per neighbour pair, and each replica's temperature (fixed after warmup)
        stats["swap_acceptance_rate"], stats["temperature"] = ef["swap_accept"], 1.0 / np.asarray(ef["betas"])
    return {k: np.asarray(v) for k, v in values.items()}, stats, kernel.note


# The targets and MCMC objects of the last few setups: another call with the same model object, params,
# consts, sampler and layout (another seed, other starting points) runs the compiled loop again.
_SETUPS = Setups(kept=4)
STEP_LIMIT = 2 ** 31 - 1  # iterations a chain: NumPyro's loop counts in int32
KEEP_LIMIT = 1 << 28  # chains x draws x values a call may keep (1 GiB of float32): beyond, error[limit]
HUGE_DRAW = 1e12  # draws beyond this size suggest chains drifting off in an improper model


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


def _knobs(kopt: KernelOptions, default_step: float) -> dict:
    out = {"step_size": kopt.step_size if kopt.step_size is not None else default_step,
           "adapt_step": kopt.adapt_step, "adapt_mass": kopt.adapt_mass}
    if kopt.target_accept is not None:
        out["target_accept"] = kopt.target_accept
    return out
