"""The plain-words diagnosis of MCMC draws: R-hat, ESS, divergences, acceptance, tree depth, parallel
tempering's swaps and float32 precision, each a :class:`DiagnosticWarning` with what to try."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import EbmError
from ..model.admit import require
from ..vocabulary import knob, value
from .idata import summary


TARGET_ACCEPT = {"nuts": 0.8, "hmc": 0.8, "mala": 0.574, "rwmh": 0.234, "pt": 0.574}  # pt: its MALA moves
"""The acceptance rate each kernel's warmup aims at (``ebmppl.sample``'s defaults). ULA has no accept test."""

MAX_TREE_DEPTH = 10
"""NumPyro's default maximum NUTS tree depth, which ``ebmppl.sample`` uses (1023 leapfrog steps)."""

WARNING_KINDS = ("divergences", "precision", "rhat", "ess_bulk", "ess_tail", "acceptance", "tree_depth", "swaps",
                 "chains")
SWAP_MIN = 0.05  # a neighbour pair of parallel tempering swapping less often than this blocks the ladder


@dataclass(frozen=True)
class DiagnosticWarning:
    """One problem :func:`diagnose` found: a kind code, what it saw, and what to try."""

    kind: str                    # one of WARNING_KINDS
    message: str                 # what was seen, in plain words, with the numbers
    hint: str                    # what to try
    variables: tuple = ()        # the elements concerned, worst first (e.g. ``("x[1]", "x[0]")``)

    def __str__(self) -> str:
        return f"warning[{self.kind}]: {self.message}\n  try: {self.hint}"


@dataclass(frozen=True, eq=False)
class Diagnosis:
    """What :func:`diagnose` returns.

    ``table`` is ArviZ's summary (one row per scalar element: mean, sd, hdi_3%, hdi_97%, mcse_mean, mcse_sd,
    ess_bulk, ess_tail, r_hat); ``warnings`` the problems found, in a fixed order (see ``WARNING_KINDS``).
    """

    table: Any  # a pandas DataFrame (not imported here: ArviZ makes it)
    warnings: tuple
    sampler: Optional[str]
    chains: int
    draws: int
    swap_rates: tuple = ()  # parallel tempering: the mean swap acceptance of each neighbour pair (hot end last)

    @property
    def ok(self) -> bool:
        """True when no warning fired."""
        return not self.warnings

    @property
    def kinds(self) -> list:
        return [w.kind for w in self.warnings]

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        worst = ""
        if "r_hat" in self.table.columns and "ess_bulk" in self.table.columns and len(self.table):
            with warnings.catch_warnings():  # every element constant: all NaN
                warnings.simplefilter("ignore", RuntimeWarning)
                worst = (f", max R-hat {np.nanmax(self.table['r_hat'].to_numpy(float)):.3f}, min bulk ESS "
                         f"{np.nanmin(self.table['ess_bulk'].to_numpy(float)):.0f}")
        return (f"Diagnosis(sampler={self.sampler!r}, {self.chains} chain(s) x {self.draws} draws, "
                f"{len(self.table)} element(s){worst}, warnings: {', '.join(self.kinds) or 'none'})")

    def _repr_html_(self) -> str:
        import html
        cols = [c for c in ("mean", "sd", "ess_bulk", "ess_tail", "r_hat") if c in self.table.columns]
        warns = "".join(f"<li>{html.escape(str(w))}</li>" for w in self.warnings) or "<li>no warnings</li>"
        return (f"<div><b>Diagnosis</b>: {html.escape(str(self.sampler))}, {self.chains} chain(s) x {self.draws} "
                f"draws{self.table[cols].head(40).to_html(float_format=lambda x: f'{x:.3f}')}<ul>{warns}</ul></div>")

    def text(self, max_rows: int = 40) -> str:
        """The sampler line, mean / sd / ESS / R-hat per element (at most ``max_rows``), then the warnings."""
        head = f"sampler {self.sampler or 'unknown'}: {self.chains} chain(s) x {self.draws} draws"
        if self.swap_rates:
            head += "\nswap acceptance per neighbour pair: " + " ".join(f"{r:.2f}" for r in self.swap_rates)
        cols = [c for c in ("mean", "sd", "ess_bulk", "ess_tail", "r_hat") if c in self.table.columns]
        shown = self.table[cols].head(max_rows)
        table = shown.to_string(formatters={c: (lambda x: f"{x:.0f}") if c.startswith("ess") else
                                            (lambda x: f"{x:.3f}") for c in cols})
        if len(self.table) > max_rows:
            table += f"\n... ({len(self.table) - max_rows} more rows in summary.csv)"
        tail = "\n".join(str(w) for w in self.warnings) if self.warnings else "no warnings"
        return f"{head}\n{table}\n{tail}"


def diagnose(idata, var_names=None, rhat_max: float = 1.01, ess_min: float = 400, min_chains: int = 4,
             target_accept: Optional[float] = None, max_tree_depth: Optional[int] = None) -> Diagnosis:
    """Summarize MCMC draws and say, in plain words, what looks wrong and what to try.

    Checks, in this order: divergent transitions after warmup; R-hat above ``rhat_max``; bulk and tail
    effective sample size below ``ess_min``; each chain's mean acceptance far from the kernel's target
    (``TARGET_ACCEPT``; more than half-way from the target to the nearer of 0 and 1 — for NUTS/HMC only the
    low side counts, since a higher rate only means shorter steps); NUTS draws at the maximum tree depth;
    parallel tempering's neighbour pairs that swap less than ``SWAP_MIN`` of the time (their rates are in
    ``Diagnosis.swap_rates``); fewer than ``min_chains`` chains. Elements whose R-hat or ESS is undefined
    (constant draws) are skipped.

    Args:
        idata: ``arviz.InferenceData`` from :func:`ebmppl.sample` (or any with a ``posterior`` group).
        var_names: the variables to summarize and check (default: all of the posterior).
        rhat_max, ess_min, min_chains: the thresholds (defaults after Vehtari et al. 2021).
        target_accept: the acceptance rate warmup aimed at (default: the posterior's ``target_accept``
            attribute, else the kernel's default from ``TARGET_ACCEPT``).
        max_tree_depth: NUTS's depth limit (default: the ``max_tree_depth`` attribute, else 10).

    Returns:
        :class:`Diagnosis` with ``table`` (a pandas DataFrame) and ``warnings``.

    Example:
        >>> d = ebmppl.diagnose(ebmppl.sample(model, sampler="mala"))
        >>> d.ok, d.kinds
    """
    rhat_max, ess_min, min_chains, target_accept, max_tree_depth = _thresholds(
        rhat_max, ess_min, min_chains, target_accept, max_tree_depth)
    post = getattr(idata, "posterior", None)
    if post is None or not post.data_vars:
        raise EbmError("diagnose", "the samples have no posterior group (no draws to diagnose)",
                       hint="diagnose the output of ebmppl.sample / `ebmppl sample`")
    chains, draws = int(post.sizes.get("chain", 1)), int(post.sizes.get("draw", 0))
    if draws < 4:
        raise EbmError("diagnose", f"{draws} draw(s) per chain are too few to diagnose", hint="draw at least 4")
    check_draws(idata, "the samples")
    attrs = dict(post.attrs)
    sampler = attrs.get("sampler")
    with warnings.catch_warnings():  # ArviZ warns about 1-chain R-hat and constant draws; we report those
        warnings.simplefilter("ignore")
        try:
            table = summary(idata, var_names=var_names, kind="all", round_to="none")
        except KeyError as e:
            raise EbmError("diagnose", f"var_names: {e.args[0] if e.args else e}",
                           hint=f"the posterior has {', '.join(map(str, post.data_vars))}") from None
    stats = getattr(idata, "sample_stats", None)
    found, two_state = [], _two_state(post)
    found += _divergences(stats, chains, draws, sampler)
    found += precision(_stat(stats, "diverging"), _stat(stats, "step_size"), _float32(post), sampler)
    if chains >= 2:
        found += _threshold(table, "r_hat", rhat_max, True, sampler, two_state)
    found += _threshold(table, "ess_bulk", ess_min, False, sampler, two_state)
    found += _threshold(table, "ess_tail", ess_min, False, sampler, two_state)
    target = target_accept if target_accept is not None else _float(attrs.get("target_accept"))
    found += _acceptance(stats, sampler, target)
    depth = max_tree_depth if max_tree_depth is not None else _float(attrs.get("max_tree_depth"))
    found += _tree_depth(stats, sampler, int(depth) if depth else MAX_TREE_DEPTH, chains, draws)
    swap_rates = _swap_rates(stats)
    found += _swaps(swap_rates)
    if chains < min_chains:
        found.append(DiagnosticWarning(
            "chains", f"only {chains} chain{'s' if chains != 1 else ''}: R-hat and the ESS need at least "
                      f"{min_chains} independent chains to catch chains that disagree",
            f"sample with chains={min_chains} (`--chains {min_chains}`)"))
    return Diagnosis(table, tuple(found), sampler, chains, draws, swap_rates)


def _thresholds(rhat_max, ess_min, min_chains, target_accept, max_tree_depth) -> tuple:
    """diagnose's thresholds, each admitted by the domain table (a NaN threshold would silence its check)."""
    return (require(rhat_max, "positive", what="rhat_max="), require(ess_min, "positive", what="ess_min="),
            require(min_chains, "size", what="min_chains="),
            None if target_accept is None else require(target_accept, "unit", what="target_accept="),
            None if max_tree_depth is None else require(max_tree_depth, "size", what="max_tree_depth="))


def _float(x) -> Optional[float]:
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def _stat(stats, name):
    if stats is None or name not in stats:
        return None
    return np.asarray(stats[name])


def _chains_text(per_chain, fmt) -> str:
    return ", ".join(f"chain {i}: {fmt(v)}" for i, v in enumerate(per_chain))


def _divergences(stats, chains, draws, sampler) -> list:
    div = _stat(stats, "diverging")
    if div is None:
        return []
    per = div.reshape(div.shape[0], -1).sum(axis=1).astype(int)
    n = int(per.sum())
    if n == 0:
        return []
    total = chains * draws
    if sampler in ("nuts", "hmc"):
        hint = (f"raise target_accept ({knob('target_accept', 0.95)}) so the step size shrinks; if "
                "divergences persist, reparameterize the model (e.g. non-centered: z ~ normal(0, 1), "
                "theta = mu + tau * z) or bound the region where the energy changes steeply")
    else:
        hint = (f"proposals reached non-finite energies: pass a smaller {knob('step_size')}, lengthen "
                f"{knob('warmup')}, or check the "
                "energy for overflow (log of a non-positive value, exp of a large one)")
    return [DiagnosticWarning(
        "divergences", f"{n} of {total} draws after warmup diverged ({100 * n / total:.1f}%; "
                       f"{_chains_text(per, str)}): the sampler failed to follow the energy there, so the draws "
                       f"may miss part of the distribution", hint)]


# The precision guard: a float32 NUTS/HMC chain that diverges often (more than PRECISION_DIVERGING of its draws)
# while its step size has collapsed (below PRECISION_STEP) or its mass matrix spans more than PRECISION_SPREAD (the
# ratio of the largest to the smallest inverse mass) ran out of precision, not into a hard geometry alone.
PRECISION_DIVERGING, PRECISION_STEP, PRECISION_SPREAD = 0.01, 1e-3, 1e8


def precision(diverging, step_size, float32: bool, sampler, inverse_mass=None, finite_grads: bool = True) -> list:
    """The ``precision`` warning when a float32 NUTS/HMC run shows the signs of too few digits: a chain with many
    divergences together with a collapsed step size or a badly conditioned (diagonal) mass matrix, or gradients that
    are not finite. ``diverging``, ``step_size``: per draw, chains first; ``inverse_mass``: per chain."""
    if not float32 or sampler not in ("nuts", "hmc"):
        return []
    signs = [] if finite_grads else ["gradients that are not finite"]
    if diverging is not None and np.size(diverging):
        div = np.asarray(diverging, float).reshape(np.shape(diverging)[0], -1).mean(axis=1)
        step = (np.full(div.shape, np.inf) if step_size is None else
                np.median(np.asarray(step_size, float).reshape(div.shape[0], -1), axis=1))
        spread = np.ones(div.shape) if inverse_mass is None else _spread(inverse_mass, div.shape[0])
        for c in np.flatnonzero((div > PRECISION_DIVERGING) & ((step < PRECISION_STEP) | (spread > PRECISION_SPREAD))):
            why = f"step size {step[c]:.2g}" if step[c] < PRECISION_STEP else f"mass matrix spread {spread[c]:.2g}"
            signs.append(f"chain {c}: {100 * div[c]:.0f}% divergent, {why}")
    if not signs:
        return []
    return [DiagnosticWarning(
        "precision", f"the {sampler} run in float32 shows the signs of too little precision ({'; '.join(signs)}): "
                     f"the draws are likely wrong, not just slow to mix",
        "rerun in float64: --x64 on the command line, ebmppl.config(x64=True) in Python (before loading the model)")]


def _spread(inverse_mass, chains: int) -> np.ndarray:
    m = np.abs(np.asarray(inverse_mass, float))
    if m.ndim != 2 or m.shape[0] != chains:  # not one row per chain: nothing to read
        return np.ones(chains)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = m.max(axis=1) / m.min(axis=1)
    return np.where(np.isfinite(r), r, np.inf)


def _float32(post) -> bool:
    """The draws were computed in float32 (their dtype says so)."""
    kinds = [post[v].dtype for v in post.data_vars if post[v].dtype.kind == "f"]
    return bool(kinds) and all(k == np.float32 for k in kinds)


def _further(sampler, two_state: bool = True) -> str:
    """The advice to switch samplers, where there is a better one to switch to that accepts the model: gwg
    moves binary and spin variables only (``two_state``), parallel tempering any."""
    if sampler in ("mala", "ula", "rwmh", "hmc"):
        return f", or use a sampler that moves further per step ({knob('sampler', 'nuts')})"
    if sampler == "gibbs" and two_state:
        return (f", or try Gibbs-with-gradients ({knob('sampler', 'gwg')}), which flips the most promising "
                f"elements, or parallel tempering ({value('sampler', 'pt')}) for separated modes")
    if sampler == "gibbs":
        return (f", or try parallel tempering ({knob('sampler', 'pt')}), whose hotter replicas cross the "
                f"barriers between modes")
    return ""


def _two_state(post) -> bool:
    """Every discrete variable of the draws (integer-valued; lets aside) takes two values at most, 0/1 or -1/+1:
    the binary and spin variables Gibbs-with-gradients moves (a categorical one has more states)."""
    lets = set(str(post.attrs.get("lets", "")).split(","))
    for name, da in post.data_vars.items():
        a = np.asarray(da.values)
        if name not in lets and a.dtype.kind in "iub" and a.size:
            states = set(np.unique(a).tolist())
            if not (states <= {0, 1} or states <= {-1, 1}):
                return False
    return True


def _threshold(table, col, limit, above, sampler=None, two_state: bool = True) -> list:
    if col not in table.columns:
        return []
    v = table[col].astype(float)
    bad = v[(v > limit) if above else (v < limit)].dropna()
    if bad.empty:
        return []
    bad = bad.sort_values(ascending=not above)
    names = tuple(str(i) for i in bad.index)
    worst = ", ".join(f"{n} {x:.3g}" if col == "r_hat" else f"{n} {x:.0f}" for n, x in bad.head(3).items())
    of = f"{len(bad)} of {int(v.notna().sum())} elements"
    if col == "r_hat":
        return [DiagnosticWarning(
            "rhat", f"R-hat is above {limit} for {of} (worst: {worst}): the chains disagree, so they have not "
                    f"yet mixed or sit in different modes", "run longer (more warmup and draws); if the chains "
                    "stay apart, the distribution is multimodal or badly scaled: start the chains closer together "
                    f"or reparameterize{_further(sampler, two_state)}", names)]
    what = "bulk" if col == "ess_bulk" else "tail"
    meaning = ("means and medians are uncertain" if what == "bulk" else
               "the 5% and 95% quantiles (and intervals) are uncertain")
    return [DiagnosticWarning(
        f"ess_{what}", f"{what} effective sample size is below {limit:.0f} for {of} (lowest: {worst}): "
                       f"the draws are strongly autocorrelated and {meaning}",
        f"draw more ({knob('draws')}; with a slowly mixing sampler, {knob('thin')} keeps the files small)"
        f"{_further(sampler, two_state)}",
        names)]


def _acceptance(stats, sampler, target) -> list:
    acc = _stat(stats, "acceptance_rate")
    if acc is None or sampler not in TARGET_ACCEPT:
        return []
    target = TARGET_ACCEPT[sampler] if target is None else target
    per = acc.reshape(acc.shape[0], -1).mean(axis=1)
    tol = 0.5 * min(target, 1 - target)
    low = [i for i, a in enumerate(per) if a < target - tol]
    high = [i for i, a in enumerate(per) if a > target + tol] if sampler not in ("nuts", "hmc") else []
    if not low and not high:
        return []
    rates = _chains_text(per, lambda a: f"{a:.2f}")
    if low:
        hint = (f"the steps are too long for the energy's curvature: lengthen warmup ({knob('warmup')}) so the "
                f"step size settles, pass a smaller {knob('step_size')}, or reparameterize to even out the scales")
        if sampler in ("nuts", "hmc"):
            hint = (f"lengthen warmup ({knob('warmup')}) so step-size adaptation settles, or raise "
                    f"{knob('target_accept')}; a low rate that persists means the curvature varies: reparameterize")
        side = "below"
    else:
        hint = (f"the steps are too short, so the chains crawl: lengthen warmup ({knob('warmup')}) so the step "
                f"size can grow, or pass a larger {knob('step_size')}")
        side = "above"
    chains_bad = sorted(low + high)
    return [DiagnosticWarning(
        "acceptance", f"mean acceptance is {side} {sampler}'s target {target:g} in chain(s) "
                      f"{', '.join(map(str, chains_bad))} ({rates}; acceptable {max(0.0, target - tol):.2f}"
                      f"-{min(1.0, target + tol) if sampler not in ('nuts', 'hmc') else 1:.2f})", hint)]


def _swap_rates(stats) -> tuple:
    """Each neighbour pair's mean swap acceptance over chains and draws (parallel tempering), or ()."""
    sw = _stat(stats, "swap_acceptance_rate")
    if sw is None or sw.ndim != 3:
        return ()
    return tuple(float(r) for r in sw.mean(axis=(0, 1)))


def _swaps(rates: tuple) -> list:
    low = [i for i, r in enumerate(rates) if r < SWAP_MIN]
    if not low:
        return []
    worst = ", ".join(f"pair {i}-{i + 1}: {rates[i]:.3f}" for i in low[:3])
    return [DiagnosticWarning(
        "swaps", f"{len(low)} neighbour pair(s) of the temperature ladder swap states less than "
                 f"{SWAP_MIN:.0%} of the time ({worst}): states rarely travel between the hot and the cold "
                 f"replicas, so modes found hot may not reach the draws",
        "use more temperatures (temperatures=, `--temperatures`), or a longer warmup so the ladder adapts")]


def _tree_depth(stats, sampler, depth, chains, draws) -> list:
    td = _stat(stats, "tree_depth")
    if td is None or sampler != "nuts":
        return []
    per = (td.reshape(td.shape[0], -1) >= depth).sum(axis=1).astype(int)
    n = int(per.sum())
    if n == 0:
        return []
    return [DiagnosticWarning(
        "tree_depth", f"{n} of {chains * draws} NUTS draws hit the maximum tree depth {depth} "
                      f"({2 ** depth - 1} leapfrog steps; {_chains_text(per, str)}): trajectories were cut short, "
                      f"so NUTS explored like a random walk",
        "reparameterize so the variables have similar scales and little correlation (the step size can then "
        "grow); or run NumPyro's NUTS directly with a larger max_tree_depth")]


def check_draws(idata, source: str, kind: str = "diagnose") -> None:
    """Every posterior variable holds MCMC draws: dims (chain, draw, ...), numbers, at least one draw, none of
    them NaN or infinite (a ``let``, listed in the ``lets`` attribute, may be non-finite at some draws, never at
    all); otherwise an ``error[kind]`` naming ``source`` and the variable."""
    post = idata.posterior
    lets = set(str(post.attrs.get("lets", "")).split(","))
    hint = "diagnose the samples.nc written by `ebmppl sample` (this one is damaged or comes from elsewhere)"
    for name, da in post.data_vars.items():
        if tuple(da.dims[:2]) != ("chain", "draw"):
            raise EbmError(kind, f"{source}: '{name}' has dims ({', '.join(map(str, da.dims))}), not (chain, draw, "
                                 f"...): these are not MCMC draws", hint=hint)
        a = np.asarray(da.values)
        if a.dtype.kind not in "biuf":
            raise EbmError(kind, f"{source}: '{name}' holds {a.dtype} values, not numbers", hint=hint)
        if a.size == 0:
            raise EbmError(kind, f"{source}: '{name}' has no draws (shape {list(a.shape)})", hint=hint)
        finite = np.isfinite(a)
        if not finite.any():
            raise EbmError(kind, f"{source}: '{name}' has no finite draw (every value is {a.flat[0]})", hint=hint)
        if not finite.all() and name not in lets:
            at = tuple(int(i) for i in np.argwhere(~finite)[0])
            raise EbmError(kind, f"{source}: '{name}' is not finite at chain {at[0]}, draw {at[1]} ({a[at]}; "
                                 f"{int((~finite).sum())} values in all): ebmppl never writes such draws of a "
                                 f"variable", hint=hint)
