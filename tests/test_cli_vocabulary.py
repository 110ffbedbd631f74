"""One vocabulary across the command line and Python: --consts on every command that takes consts (--data its
deprecated old name where it meant consts), the same default sampler, the sampler's knobs as flags, hints
spelled for the interface in use, warnings printed as `warning: ...` and a --json line that parses."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import ebmppl
from ebmppl.cli import main
from ebmppl.vocabulary import FLAGS, interface, knob, knobs

SHIFT = "const c : real\nvar x : real\nfactor f = (x - c)^2 / 2\n"
POTTS = ("const L : int = 3\nvar s : categorical(3)[L, L]\n"
         "factor bonds = -sum((s == roll(s, 1, axis=0)) + (s == roll(s, 1, axis=1)))\n")
WITH_PARAM = "var x : real\nparam m : real = 0.0\nfactor f = (x - m)^2 / 2\n"
BITS = "var b : binary[3]\nfactor f = sum(b)\n"
SAMPLE = ["--chains", "2", "--draws", "100", "--warmup", "100", "--no-progress"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vocab")
    for name, text in {"shift.ebm": SHIFT, "potts.ebm": POTTS, "param.ebm": WITH_PARAM, "bits.ebm": BITS}.items():
        (d / name).write_text(text)
    (d / "c.json").write_text('{"c": 2.0}')
    (d / "rows.csv").write_text("x\n" + "".join(f"{v}\n" for v in np.random.default_rng(0).normal(2, 1, 64)))
    return d


def _json(capsys) -> dict:
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    assert len(lines) == 1, cap.out
    return json.loads(lines[0]) | {"_err": cap.err}


@pytest.fixture(scope="module")
def sampled(files, tmp_path_factory):
    """`ebmppl sample --consts`, whose draws the diagnose tests read."""
    out = tmp_path_factory.mktemp("sampled")
    assert main(["sample", str(files / "shift.ebm"), "--consts", str(files / "c.json"), "--out", str(out), *SAMPLE,
                 "--seed", "1"]) == 0
    return out / "samples.nc"


def test_consts_on_check_and_logz(files, capsys):
    assert main(["check", str(files / "shift.ebm"), "--consts", str(files / "c.json"), "--json"]) == 0
    res = _json(capsys)
    assert res["command"] == "check" and res["ok"] and res["bound"]
    assert main(["logz", str(files / "shift.ebm"), "--consts", str(files / "c.json"), "--json"]) == 0
    res = _json(capsys)
    assert res["method"] == "quadrature" and res["value"] == pytest.approx(0.5 * np.log(2 * np.pi), abs=1e-4)
    assert res["stderr"] >= 0 and "note:" not in res["_err"]


def test_consts_on_sample_diagnose_fit_and_score(files, sampled, tmp_path, capsys):
    capsys.readouterr()
    import arviz as az
    assert float(az.from_netcdf(sampled).posterior["x"].mean()) == pytest.approx(2.0, abs=0.5)  # c = 2 was bound
    assert main(["diagnose", str(sampled), "--consts", str(files / "c.json"), "--out", str(tmp_path / "d"),
                 "--json"]) == 0
    res = _json(capsys)
    assert res["command"] == "diagnose" and any(f.endswith("report.md") for f in res["files"])
    fit = ["fit", str(files / "shift.ebm"), "--data", str(files / "rows.csv"), "--consts", str(files / "c.json"),
           "--steps", "20", "--no-report", "--no-progress", "--out", str(tmp_path / "f"), "--json"]
    (files / "fitme.ebm").write_text("const c : real\nvar x : real\nparam m : real = 0.0\n"
                                     "factor f = (x - m - c)^2 / 2\n")
    fit[1] = str(files / "fitme.ebm")
    assert main(fit) == 0
    res = _json(capsys)
    assert res["steps"] == 20 and "m" in res["params"]
    assert main(["score", str(files / "fitme.ebm"), "--data", str(files / "rows.csv"), "--consts",
                 str(files / "c.json"), "--out", str(tmp_path / "s"), "--json"]) == 0
    res = _json(capsys)
    assert res["rows"] == 64 and res["files"][0].endswith("scores.csv")


def test_sample_json_names_the_file_and_warnings(files, sampled, tmp_path, capsys):
    assert main(["sample", str(files / "param.ebm"), "--out", str(tmp_path / "p"), *SAMPLE, "--json"]) == 0
    res = _json(capsys)
    assert res["sampler"] == "nuts" and res["files"] == [str(tmp_path / "p" / "samples.nc")]
    assert any("initial params" in w for w in res["warnings"])


@pytest.mark.parametrize("command", ["check", "sample", "logz"])
def test_data_on_a_consts_command_still_works_with_a_deprecation_note(command, files, tmp_path, capsys):
    args = [command, str(files / "shift.ebm"), "--data", str(files / "c.json")]
    if command == "sample":
        args += ["--out", str(tmp_path / "s"), *SAMPLE]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"note: --data is deprecated for `ebmppl {command}`: use --consts" in err


def test_data_and_consts_together_is_a_usage_error(files, capsys):
    assert main(["check", str(files / "shift.ebm"), "--data", str(files / "c.json"), "--consts",
                 str(files / "c.json")]) == 2
    assert "error[usage]" in capsys.readouterr().err


def test_python_and_cli_pick_the_same_sampler_for_a_potts_model(files, tmp_path, capsys):
    model = ebmppl.load(files / "potts.ebm")
    idata = ebmppl.sample(model, chains=2, draws=50, warmup=20, progress=False, verbose=False)
    assert main(["sample", str(files / "potts.ebm"), "--out", str(tmp_path / "p"), "--chains", "2", "--draws", "50",
                 "--warmup", "20", "--no-progress", "--json"]) == 0
    res = _json(capsys)
    assert idata.posterior.attrs["sampler"] == res["sampler"] == "gibbs"


def test_continuous_models_still_get_nuts_by_default():
    m = ebmppl.parse("var x : real\nfactor f = x^2 / 2")
    assert ebmppl.sample(m, chains=1, draws=20, warmup=20, progress=False,
                         verbose=False).posterior.attrs["sampler"] == "nuts"


def test_sampler_flags_reach_the_sampler(files, tmp_path, capsys):
    assert main(["sample", str(files / "shift.ebm"), "--consts", str(files / "c.json"), "--out", str(tmp_path / "k"),
                 *SAMPLE, "--sampler", "mala", "--target-accept", "0.8", "--step-size", "0.3", "--no-adapt-mass"]) == 0
    import arviz as az
    idata = az.from_netcdf(tmp_path / "k" / "samples.nc")
    assert float(idata.posterior.attrs["target_accept"]) == pytest.approx(0.8)
    capsys.readouterr()
    for bad in (["--target-accept", "1.5"], ["--step-size", "-1"]):
        assert main(["sample", str(files / "shift.ebm"), "--out", str(tmp_path / "b"), *bad]) == 2
        err = capsys.readouterr().err
        assert f"error[usage]: {bad[0]} must be" in err


def test_a_hint_is_spelled_for_the_interface_in_use(files, tmp_path, capsys):
    assert main(["sample", str(files / "bits.ebm"), "--sampler", "mala", "--out", str(tmp_path / "h"), *SAMPLE]) == 2
    err = capsys.readouterr().err
    assert "--sampler gibbs" in err and "sampler='" not in err
    with pytest.raises(ebmppl.EbmError) as e:
        ebmppl.sample(ebmppl.load(files / "bits.ebm"), sampler="mala", progress=False)
    assert "sampler='gibbs'" in e.value.hint and "--sampler" not in e.value.hint


def test_target_accept_hint_in_both_spellings():
    assert knob("target_accept", 0.95) == "target_accept=0.95"
    assert knob("step_size") == "step_size="
    with interface("cli"):
        assert knob("target_accept", 0.95) == "--target-accept 0.95"
        assert knob("step_size") == "--step-size"
        assert knob("adapt_mass", False) == "--no-adapt-mass"
        assert knobs("sampler", "nuts", "mala", "hmc") == "--sampler nuts, mala or hmc"
        assert knob("init", None) == "init="  # no flag: the Python spelling
    assert knobs("sampler", "nuts", "mala", "hmc") == "sampler='nuts', 'mala' or 'hmc'"


def test_every_flag_in_the_table_is_an_option_of_the_cli():
    from ebmppl.cli.parser import build_parser
    ap = build_parser()
    sub = next(a for a in ap._actions if a.dest == "command").choices
    known = {o for p in sub.values() for a in p._actions for o in a.option_strings}
    assert {f for f in FLAGS.values() if f} <= known


def test_a_divergence_hint_on_the_cli_names_the_flag(tmp_path, capsys):
    funnel = tmp_path / "funnel.ebm"
    funnel.write_text("var v : real\nvar x : real\nv ~ normal(0, 3)\nx ~ normal(0, exp(v / 2))\n")
    assert main(["sample", str(funnel), "--out", str(tmp_path / "f"), "--chains", "1", "--draws", "60",
                 "--warmup", "20", "--no-progress", "--seed", "3"]) == 0  # a funnel, barely warmed up: divergences
    out = capsys.readouterr().out
    assert "divergent transitions after warmup: raise --target-accept 0.95" in out


def test_warnings_print_once_as_warning_lines_and_quiet_silences_them(files, tmp_path, capsys):
    before = warnings.showwarning
    assert main(["sample", str(files / "param.ebm"), "--out", str(tmp_path / "w"), *SAMPLE]) == 0
    err = capsys.readouterr().err
    line = "warning: sampling at the model's initial params (pass --params for fitted ones)"
    assert err.count(line) == 1
    assert "UserWarning" not in err and ".py:" not in err
    assert warnings.showwarning is before  # the hook lives only inside main
    assert main(["sample", str(files / "param.ebm"), "--out", str(tmp_path / "w2"), *SAMPLE, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
