"""Hostile inputs for log Z, scores, sampling options and diagnose: improper models (a density that grows,
stays flat or is undefined somewhere) must be refused with ``error[logz]`` instead of a confident number;
proper ones keep their values; scores never hold NaN; sampling options and samples files are checked where
they enter; nothing earlier is lost."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .harness import Case, Result

FAST_AIS = ("--runs", "32", "--temperatures", "60")


def _logz(args: tuple, model: str, **kw) -> Case:
    """A case running ``ebmppl logz m.ebm ARGS`` on the model text ``model``."""
    name = kw.pop("id")
    return Case(name, ("logz", "m.ebm") + args, {"m.ebm": model}, **kw)


def _printed_logz(res: Result) -> float:
    m = re.search(r"log Z = (\S+) \+/- (\S+)", res.out)
    assert m, res.out
    return float(m.group(1))


def _near(want: float, tol: float):
    def check(res: Result) -> None:
        value = _printed_logz(res)
        assert abs(value - want) < tol, f"log Z = {value}, expected {want} +/- {tol}"
    return check


IMPROPER = dict(kind="logz", phrase="looks improper")

# ------------------------------------------------------------- quadrature
QUADRATURE = [
    _logz((), "var x : real\nfactor f = -x^2\n", id="logz-quad-density-grows", **IMPROPER),
    _logz(("--method", "quadrature"), "var x : real\nfactor f = 0 * x\n", id="logz-quad-flat", **IMPROPER),
    _logz((), "var x : real\nfactor f = x\n", id="logz-quad-grows-one-side", kind="logz",
          phrase="lower end of 'x'"),
    _logz((), "var x : real\nfactor f = exp(-x) - x\n", id="logz-quad-grows-other-side", kind="logz",
          phrase="upper end of 'x'"),
    _logz((), "var x : real\nfactor f = log(x)\n", id="logz-quad-nan-region", kind="logz", phrase="nan"),
    _logz((), "var x : real\nfactor f = x^2 - log(x - 1)\n", id="logz-quad-nan-names-factor", kind="logz",
          phrase="factor 'f'"),
    _logz((), "var s : positive\nfactor f = 0 * s\n", id="logz-quad-positive-flat", kind="logz",
          phrase="upper end of 's'"),
    _logz((), "var s : positive\nfactor f = s + 2 * log(s)\n", id="logz-quad-positive-diverges-at-0",
          kind="logz", phrase="lower end of 's'"),
    _logz((), "var p : unit\nfactor f = log(p)\n", id="logz-quad-unit-diverges-at-0", **IMPROPER),
    _logz((), "var x : real[2]\nfactor f = x[0]^2\n", id="logz-quad-2d-flat-direction", kind="logz",
          phrase="x[1]"),
    _logz((), "var x : real[2]\nfactor f = x[0]^2 - x[1]^2\n", id="logz-quad-2d-saddle", kind="logz",
          phrase="x[1]"),
    _logz((), "var x : real[2]\nfactor f = sqrt(x[0]) + x[1]^2\n", id="logz-quad-2d-nan", kind="logz",
          phrase="nan"),
    _logz((), "var x : real\nfactor f = 0.5 * log(1 + x^2)\n", id="logz-quad-heavy-tail", **IMPROPER),
    # proper models keep (or get) the right number
    _logz((), "var x : real\nfactor f = x^2 / 2\n", id="logz-quad-gaussian-ok", code=0,
          check=_near(0.5 * np.log(2 * np.pi), 1e-4)),
    _logz((), "var p : unit\nfactor f = 0 * p\n", id="logz-quad-uniform-ok", code=0, check=_near(0.0, 1e-4)),
    _logz((), "var x : real\nx ~ normal(0, 5)\n", id="logz-quad-wide-gaussian-ok", code=0, check=_near(0.0, 1e-3)),
    _logz((), "var x : real\nx ~ normal(20, 1)\n", id="logz-quad-far-gaussian-ok", code=0, check=_near(0.0, 1e-3)),
]

# ---------------------------------------------------------------- exact
EXACT = [
    _logz((), "var s : spin[2]\nfactor f = sum(log(s))\n", id="logz-exact-nan", kind="logz", phrase="nan"),
    _logz(("--method", "exact"), "var s : binary[2]\nfactor f = log(s[0])\n", id="logz-exact-infinite-density",
          kind="logz", phrase="infinite"),
    _logz((), "var s : binary\nfactor f = -log(s - s)\n", id="logz-exact-zero-everywhere", kind="logz",
          phrase="every state"),
    _logz((), "var v : binary[2]\nlatent h : binary[2]\nfactor f = -sum(h) * log(v[0] - 0.5)\n",
          id="logz-exact-nan-in-summed-part", kind="logz", phrase="nan"),
    _logz((), "var s : binary[3]\nfactor f = sum(s)\n", id="logz-exact-ok", code=0,
          check=_near(3 * np.log1p(np.exp(-1.0)), 1e-5)),
    _logz((), "var s : binary\nfactor f = -log(s)\n", id="logz-exact-zero-probability-state-ok", code=0,
          check=_near(0.0, 1e-6)),
]

# ------------------------------------------------------------------ AIS
AIS = ("--method", "ais") + FAST_AIS
ANNEALED = [
    _logz(AIS, "var x : real[3]\nfactor f = -sum(x^2)\n", id="logz-ais-density-grows", **IMPROPER),
    _logz(AIS, "var x : real[3]\nfactor f = 0 * sum(x)\n", id="logz-ais-flat", **IMPROPER),
    _logz(AIS, "var x : real[3]\nfactor f = sum(x)\n", id="logz-ais-grows-one-side", **IMPROPER),
    _logz(AIS, "var x : real[3]\nfactor f = sum(log(x))\n", id="logz-ais-nan", kind="logz", phrase="not finite"),
    _logz(AIS, "var x : real[3]\nfactor f = x[0]^2 + x[1]^2\n", id="logz-ais-flat-in-one-element", kind="logz",
          phrase="x[2]"),
    _logz(AIS, "var x : positive[3]\nfactor f = 0 * sum(x)\n", id="logz-ais-positive-flat", **IMPROPER),
    _logz(FAST_AIS, "var x : real[3]\nfactor f = -sum(x^2)\n", id="logz-auto-ais-improper", **IMPROPER),
    _logz(FAST_AIS, "var s : binary\nvar x : real\nfactor f = -x^2 + s\n", id="logz-auto-mixed-improper",
          **IMPROPER),
    _logz(AIS, "var x : real[3]\nx ~ normal(0, 1)\n", id="logz-ais-proper-ok", code=0, check=_near(0.0, 0.05)),
    _logz(("--method", "ais", "--runs", "0"), "var x : real[3]\nx ~ normal(0, 1)\n", id="logz-ais-zero-runs",
          kind="usage", phrase="runs"),
    _logz(("--method", "ais", "--runs", "1"), "var x : real[3]\nx ~ normal(0, 1)\n", id="logz-ais-one-run",
          kind="usage", phrase="runs"),
    _logz(("--method", "ais", "--temperatures", "0"), "var x : real[3]\nx ~ normal(0, 1)\n",
          id="logz-ais-zero-temperatures", kind="usage", phrase="temperatures"),
    _logz(("--method", "ais", "--runs", "-5"), "var x : real[3]\nx ~ normal(0, 1)\n",
          id="logz-ais-negative-runs", kind="usage", phrase="runs"),
]


# ---------------------------------------------------------------- score
def _earlier_scores(tmp: Path) -> None:
    (tmp / "o").mkdir()
    (tmp / "o" / "scores.csv").write_text("row,score\n0,1.5\n")


def _scores_kept(res: Result) -> None:
    assert (res.dir / "o" / "scores.csv").read_text() == "row,score\n0,1.5\n"
    assert not [p for p in (res.dir / "o").iterdir() if p.name != "scores.csv"]


def _no_scores(res: Result) -> None:
    assert not (res.dir / "o").exists()


SCORE = [
    Case("score-nan-row", ("score", "m.ebm", "--data", "d.csv", "--out", "{dir}/o"),
         {"m.ebm": "var x : real\nfactor f = log(x)\n", "d.csv": "x\n1\n-1\n"}, kind="data", phrase="row 1",
         check=_no_scores),
    Case("score-infinite-density-row", ("score", "m.ebm", "--data", "d.csv", "--out", "{dir}/o"),
         {"m.ebm": "var x : real\nfactor f = log(x^2)\n", "d.csv": "x\n1\n0\n2\n"}, kind="data", phrase="row 1",
         check=_no_scores),
    Case("score-nan-keeps-earlier-scores", ("score", "m.ebm", "--data", "d.csv", "--out", "{dir}/o", "--overwrite"),
         {"m.ebm": "var x : real\nfactor f = sqrt(x)\n", "d.csv": "x\n-4\n"}, kind="data", phrase="nan",
         setup=_earlier_scores, check=_scores_kept),
    Case("score-latent-nan", ("score", "m.ebm", "--data", "d.csv", "--out", "{dir}/o"),
         {"m.ebm": "var v : real\nlatent h : binary\nfactor f = h * log(v)\n", "d.csv": "v\n2\n-2\n"},
         kind="data", phrase="row 1", check=_no_scores),
]


# --------------------------------------------------------------- sample
def _params(**arrays):
    """Write p.npz (and its sidecar) holding ``arrays`` as params of m.ebm, whatever their values."""
    def setup(tmp: Path) -> None:
        import ebmppl
        from ebmppl.io import save_params
        model = ebmppl.load(tmp / "m.ebm")
        save_params(tmp / "p.npz", model, {k: np.asarray(v, np.float32) for k, v in arrays.items()})
    return setup


def _no_samples(res: Result) -> None:
    assert not (res.dir / "o").exists()


SAMPLE_ARGS = ("--draws", "20", "--warmup", "20", "--chains", "1", "--out", "{dir}/o", "--no-progress")
GAUSS_PARAM = "var x : real\nparam s : positive = 1.0\nfactor f = 0.5 * (x / s)^2\n"
SAMPLE = [
    Case("sample-zero-chains", ("sample", "m.ebm", "--chains", "0", "--out", "{dir}/o"),
         {"m.ebm": "var x : real\nx ~ normal(0, 1)\n"}, kind="usage", phrase="chains", check=_no_samples),
    Case("sample-negative-draws", ("sample", "m.ebm", "--draws", "-1", "--out", "{dir}/o"),
         {"m.ebm": "var x : real\nx ~ normal(0, 1)\n"}, kind="usage", phrase="draws", check=_no_samples),
    Case("sample-zero-thin", ("sample", "m.ebm", "--thin", "0", "--out", "{dir}/o"),
         {"m.ebm": "var x : real\nx ~ normal(0, 1)\n"}, kind="usage", phrase="thin", check=_no_samples),
    Case("sample-negative-warmup", ("sample", "m.ebm", "--warmup", "-3", "--out", "{dir}/o"),
         {"m.ebm": "var x : real\nx ~ normal(0, 1)\n"}, kind="usage", phrase="warmup", check=_no_samples),
    Case("sample-nan-param", ("sample", "m.ebm", "--params", "p.npz") + SAMPLE_ARGS, {"m.ebm": GAUSS_PARAM},
         kind="data", phrase="not finite", setup=_params(s=np.nan), check=_no_samples),
    Case("sample-param-outside-domain", ("sample", "m.ebm", "--params", "p.npz") + SAMPLE_ARGS,
         {"m.ebm": GAUSS_PARAM}, kind="data", phrase="outside the domain", setup=_params(s=-1.0),
         check=_no_samples),
    Case("sample-unknown-sampler", ("sample", "m.ebm", "--sampler", "magic") + SAMPLE_ARGS,
         {"m.ebm": "var x : real\nx ~ normal(0, 1)\n"}, code=2, phrase="invalid choice", check=_no_samples),
]


# ------------------------------------------------------------- diagnose
def _draws_file(tmp: Path, post: dict, name="samples.nc", attrs=None) -> Path:
    from ebmppl import diagnostics
    chains, draws = np.shape(next(iter(post.values())))[:2]
    stats = {"lp": np.zeros((chains, draws)), "diverging": np.zeros((chains, draws), bool)}
    idata = diagnostics.to_inference_data(post, stats, {}, {}, attrs or {"sampler": "mala",
                                                                          "inference_library": "ebmppl"})
    return diagnostics.to_netcdf(idata, tmp / name)


def _good(tmp: Path) -> Path:
    rng = np.random.default_rng(0)
    return _draws_file(tmp, {"x": rng.normal(size=(2, 50)), "y": rng.normal(size=(2, 50, 2))})


def _truncated(tmp: Path) -> None:
    path = _good(tmp)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _nan_only(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    _draws_file(tmp, {"x": rng.normal(size=(2, 50)), "bad": np.full((2, 50), np.nan)})


def _some_inf(tmp: Path) -> None:
    x = np.random.default_rng(0).normal(size=(2, 50))
    x[1, 7] = np.inf
    _draws_file(tmp, {"x": x})


def _plain_netcdf(tmp: Path) -> None:
    import xarray as xr
    xr.Dataset({"temperature": ("time", np.arange(10.0))}).to_netcdf(tmp / "samples.nc", engine="h5netcdf")


def _no_chain_dims(tmp: Path) -> None:
    import xarray as xr
    xr.Dataset({"x": ("sample", np.arange(10.0))}).to_netcdf(tmp / "samples.nc", group="posterior",
                                                              engine="h5netcdf")


def _text_draws(tmp: Path) -> None:
    import xarray as xr
    xr.Dataset({"x": (("chain", "draw"), np.array([["a"] * 10] * 2, dtype=object))}).to_netcdf(
        tmp / "samples.nc", group="posterior", engine="h5netcdf")


def _one_draw(tmp: Path) -> None:
    _draws_file(tmp, {"x": np.zeros((2, 1))})


def _earlier_report(tmp: Path) -> None:
    _truncated(tmp)
    (tmp / "rep").mkdir()
    (tmp / "rep" / "report.md").write_text("earlier report\n")


def _report_kept(res: Result) -> None:
    assert (res.dir / "rep" / "report.md").read_text() == "earlier report\n"
    assert sorted(p.name for p in (res.dir / "rep").iterdir()) == ["report.md"]


def _no_report(res: Result) -> None:
    assert not (res.dir / "rep").exists()


def _diagnose(name: str, setup, kind="data", phrase="", files=None, **kw) -> Case:
    return Case(name, ("diagnose", "samples.nc", "--out", "{dir}/rep"), files or {}, kind=kind, phrase=phrase,
                setup=setup, check=kw.pop("check", _no_report), **kw)


DIAGNOSE = [
    _diagnose("diagnose-empty-file", None, phrase="cannot read", files={"samples.nc": b""}),
    _diagnose("diagnose-text-file", None, phrase="cannot read", files={"samples.nc": "chain,draw,x\n0,0,1\n"}),
    _diagnose("diagnose-truncated", _truncated, phrase="cannot read"),
    _diagnose("diagnose-nan-only-variable", _nan_only, phrase="'bad'"),
    _diagnose("diagnose-infinite-draw", _some_inf, phrase="not finite"),
    _diagnose("diagnose-not-arviz", _plain_netcdf, phrase="no posterior"),
    _diagnose("diagnose-no-chain-dims", _no_chain_dims, phrase="chain"),
    _diagnose("diagnose-text-draws", _text_draws, phrase="not numbers"),
    _diagnose("diagnose-one-draw", _one_draw, kind="diagnose", phrase="too few"),
    _diagnose("diagnose-keeps-earlier-report", _earlier_report, phrase="cannot read", check=_report_kept),
    Case("diagnose-a-folder", ("diagnose", "{dir}/d", "--out", "{dir}/rep"), {"d/x.txt": "x"}, kind="data",
         phrase="not a file", check=_no_report),
]

CASES = QUADRATURE + EXACT + ANNEALED + SCORE + SAMPLE + DIAGNOSE
