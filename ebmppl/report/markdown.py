"""fit-report.md: a training report's numbers in words and tables, with its figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write
from .values import Chains, Report


def _fmt(v, digits=4) -> str:
    if v is None:
        return "–"
    v = float(v)
    if not np.isfinite(v):
        return "–"
    return f"{v:.{digits}g}"


def _count(v) -> str:
    return f"{float(v):.0f}" if v is not None and np.isfinite(v) else "–"


def _chains_line(c: Chains) -> str:
    return (f"`{c.sampler}`, {c.chains} chains (start: {c.start}), {c.warmup} warmup steps, then {c.draws} "
            f"draws one every {c.thin} steps")


def _ksd_rows(rep) -> list:
    """The kernel Stein discrepancy rows: the fitted score against the data rows, no sampling involved."""
    if rep.ksd is None:
        return []
    return [f"| kernel Stein discrepancy KSD² (IMQ kernel; the score alone, no sampling) | {_fmt(rep.ksd)} |",
            f"| its wild-bootstrap p-value | {rep.ksd_p_value:.3f} |"]


def _verdict(rep: Report) -> str:
    """The MMD verdict, with a cd/pcd energy gap that contradicts it named beside it."""
    if rep.p_value < 0.05:
        verdict = "the model's draws and the data **differ detectably** (p < 0.05)"
    elif rep.gap_off_zero:
        verdict = "the MMD finds no difference between the model's draws and the data at this sample size (p ≥ 0.05)"
    else:
        return "no detectable difference between the model's draws and the data at this sample size (p ≥ 0.05)"
    if rep.gap_off_zero:
        e = rep.energies
        verdict += (f"; **but the training's energy gap is not zero**: E_pos − E_neg = {_fmt(e['gap'], 3)} ± "
                    f"{_fmt(e['gap_se'], 2)} over the last {e['tail']} steps ({abs(e['gap']) / e['gap_se']:.0f} "
                    "standard errors from 0), so the training chains' mean energy is not the data's: they do not "
                    "sample the fitted model (too few chain steps, slow mixing) or the fit has not converged. "
                    "Trust the fit only once the gap is near 0 (more steps, a larger k=, a smaller lr)")
    return verdict


def _param_lines(values: dict) -> list:
    """The fitted params as a table: small ones in full, larger ones by shape, mean, sd, min and max."""
    if not values:
        return []
    rows = ["", "## Fitted params", "", "| param | value |", "| --- | --- |"]
    for k, v in values.items():
        if isinstance(v, dict):
            text = (f"shape {v['shape']}: mean {_fmt(v['mean'])}, sd {_fmt(v['sd'])}, min {_fmt(v['min'])}, "
                    f"max {_fmt(v['max'])}")
        else:
            text = _nums(v)
        rows.append(f"| `{k}` | {text} |")
    return rows


def _nums(v) -> str:
    return f"{v:.6g}" if isinstance(v, (int, float)) else "[" + ", ".join(_nums(x) for x in v) + "]"


def write_markdown(path: Path, model, rep: Report, figures, median_bw: bool) -> Path:
    c = rep.chains
    bw_how = " by the median heuristic" if median_bw else ""
    lines = [f"# Training report: {model.name} ({rep.method})", "",
             f"- **fit**: {rep.steps} steps of `{rep.method}`; stopped: {rep.stopped}",
             f"- **final loss**: {_fmt(rep.final_loss, 6)}"
             + (f"; final validation loss {_fmt(rep.final_val_loss, 6)}" if rep.final_val_loss is not None else "")]
    if rep.energies:
        e = rep.energies
        se = f" ± {_fmt(e['gap_se'], 2)}" if np.isfinite(e.get("gap_se", np.nan)) else ""
        lines.append(f"- **energies** (means over the last tenth of the steps): positive phase (data) "
                     f"{_fmt(e['e_pos'])}, negative phase (chains) {_fmt(e['e_neg'])}, gap {_fmt(e['gap'])}{se}")
    if rep.accuracy is not None:
        lines.append(f"- **classification accuracy** on the data: {rep.accuracy:.3f} (`ce` fits p(label | rest) "
                     "only; the sample check below is of the joint model, which `ce` does not train)")
    verdict = _verdict(rep)
    lines += _param_lines(rep.params)
    lines += ["", "## Training curves", "", f"![training curves]({figures[0].name})", "",
              "## Samples vs data", "",
              f"The model's draws: the last states of {_chains_line(c)}; compared with {rep.n_data} other data "
              "rows.", "",
              "| check | value |", "| --- | --- |",
              f"| MMD (Gaussian kernel, bandwidth {_fmt(rep.bandwidth, 3)}{bw_how}) | "
              f"{_fmt(rep.mmd)} |",
              f"| permutation p-value ({rep.permutations} permutations) | {rep.p_value:.3f} |",
              *_ksd_rows(rep),
              f"| chains: max R-hat / min bulk ESS over the dimensions | {_fmt(c.rhat_max, 3)} / "
              f"{_count(c.ess_min)} |", "",
              f"Verdict: {verdict}. "
              + ("The chains start at data rows: if the model matches the data, their last states are "
                 "independent draws from it even when the chains mix slowly (R-hat above 1.01). A model that "
                 "differs drifts away from the data, though a slowly mixing one may not get far in the run."
                 if c.start == "data rows" else
                 "The chains start at random points, so slowly mixing chains (R-hat above 1.01) make the "
                 "p-value too small."), ""]
    if rep.persistent is not None:
        pc = rep.persistent
        lines += ["### Persistent chains", "",
                  f"pcd's persistent chains continued: {_chains_line(pc)}.", "",
                  f"- max R-hat {_fmt(pc.rhat_max, 3)}, min bulk ESS {_count(pc.ess_min)} over the dimensions",
                  f"- their last states vs the data: MMD {_fmt(pc.mmd)}, p-value {pc.p_value:.3f}", ""]
    m = rep.moments
    order = np.arange(len(m.labels))
    note = ""
    if len(order) > 16:
        pooled = np.sqrt((m.data_sd ** 2 + m.sample_sd ** 2) / 2)
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(pooled > 0, np.abs(m.sample_mean - m.data_mean) / pooled,
                         np.where(m.sample_mean != m.data_mean, np.inf, 0.0))
        order = np.sort(np.argsort(-z, kind="stable")[:16])
        note = f"The 16 of {len(m.labels)} dimensions whose means differ most (in pooled sds):"
    lines += ["### Moments per dimension", ""] + ([note, ""] if note else [])
    lines += ["| dim | data mean | model mean | data sd | model sd | R-hat | bulk ESS |",
              "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for i in order:
        lines.append(f"| `{m.labels[i]}` | {m.data_mean[i]:.4g} | {m.sample_mean[i]:.4g} | {m.data_sd[i]:.4g} | "
                     f"{m.sample_sd[i]:.4g} | {_fmt(c.rhat[i], 3)} | {_count(c.ess_bulk[i])} |")
    lines += ["", f"![moments per dimension]({figures[1].name})", ""]
    if len(figures) > 2:
        lines += [f"![data, fitted density and samples]({figures[2].name})", ""]
    text = "\n".join(lines)
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
