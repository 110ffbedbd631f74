"""Parallel tempering (``sampler="pt"``): the ladder, exactness on targets with exact answers, and mixing
between separated modes where single-chain MALA and Gibbs stay in one.

Fast (default suite): the ladder's arithmetic; PT on the 1-D double well (exact moments by quadrature)
and on the 4 x 4 Ising model at T = 2 (exact by enumeration), within 4 MCSE; the sample_stats layout;
knob errors. Slow: a 2-D double well with an 8-nat barrier and the 8 x 8 Ising model at T = 2.0 (below
the critical temperature): PT visits both modes in the exact 50/50 proportions (within 4 MCSE) with
R-hat < 1.01, and MALA / Gibbs chains stay where they started.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl
from ebmppl import diagnostics
from ebmppl.infer.tempering import equalized_ladder, geometric_ladder, round_ends
from tests.conftest import EXAMPLES
from tests.infer.test_kernels import Z, check_means, draws_of, ising_enumerate, run, well_moments

WELL_SRC = "var x : real\nfactor well = (x^2 - 1)^2 * 2\n"
# low temperature: an 8-nat barrier between x0 = -1 and x0 = +1 (MALA crosses it about once in e^8 steps)
DEEP_WELL_SRC = "var x : real[2]\nfactor well = 8 * (x[0]^2 - 1)^2 + 0.5 * x[1]^2\n"


# ------------------------------------------------------------------ the ladder
def test_geometric_ladder():
    b = geometric_ladder(5, 16.0)
    np.testing.assert_allclose(1 / b, [1, 2, 4, 8, 16])
    assert geometric_ladder(1, 10.0).tolist() == [1.0]


def test_equal_rejections_keep_the_ladder():
    b = jnp.asarray(geometric_ladder(6, 20.0), jnp.float32)
    np.testing.assert_allclose(equalized_ladder(b, jnp.full(5, 0.3)), b, rtol=1e-5)


def test_a_hard_pair_gets_a_narrower_gap():
    b = jnp.asarray(geometric_ladder(5, 10.0), jnp.float32)
    new = np.asarray(equalized_ladder(b, jnp.asarray([0.1, 0.1, 0.9, 0.1])))
    assert new[0] == pytest.approx(1.0) and new[-1] == pytest.approx(0.1)
    assert (np.diff(new) < 0).all()  # still decreasing
    assert new[2] - new[3] < float(b[2] - b[3])  # the pair that rejected most is brought closer


def test_round_ends_double_up_to_half_of_warmup():
    assert round_ends(1000).tolist() == [15, 31, 62, 125, 250, 500]
    assert round_ends(10).tolist() == []


# ------------------------------------------------------------------ exactness (fast)
@pytest.fixture(scope="module")
def well_pt():
    return run(ebmppl.parse(WELL_SRC), "pt", 11, chains=4, draws=1000, warmup=300, temperatures=4,
               max_temperature=4.0)


@pytest.mark.parametrize("power", [2, 4])
def test_double_well_moments(well_pt, power):
    x = draws_of(well_pt, "x")
    check_means([(f"pt E[x^{power}]", x ** power, well_moments()[power])])


def test_sample_stats_layout(well_pt):
    st = well_pt.sample_stats
    assert st["swap_acceptance_rate"].dims == ("chain", "draw", "pair") and st.sizes["pair"] == 3
    rates = st["swap_acceptance_rate"].values
    assert ((rates >= 0) & (rates <= 1)).all() and rates.mean() > 0.3
    temps = st["temperature"].values
    assert temps.shape == (4, 1000, 4)
    np.testing.assert_allclose(temps[..., 0], 1.0)
    np.testing.assert_allclose(temps[..., -1], 4.0, rtol=1e-5)
    assert (np.diff(temps, axis=-1) > 0).all()
    assert (temps == temps[:, :1]).all()  # the ladder is fixed after warmup
    assert "acceptance_rate" in st and "step_size" in st
    assert well_pt.posterior.attrs["sampler"] == "pt"


def test_diagnose_shows_swap_rates(well_pt):
    text = str(ebmppl.diagnose(well_pt))
    assert "swap acceptance" in text


@pytest.fixture(scope="module")
def ising_pt():
    return run(ebmppl.load(EXAMPLES / "ising.ebm", data={"T": 2.0}), "pt", 12, chains=4, draws=1000,
               warmup=300, temperatures=4, max_temperature=2.0)


def test_ising_pt_exact(ising_pt):
    s = draws_of(ising_pt, "s")
    assert set(np.unique(s)) <= {-1.0, 1.0}
    energy = -(s * np.roll(s, 1, axis=2) + s * np.roll(s, 1, axis=3)).sum((2, 3)) / 16.0
    e, m = ising_enumerate(2.0)
    check_means([("pt energy/site", energy, e), ("pt <|m|>", np.abs(s.mean((2, 3))), m)])


def test_gwg_as_the_base_move():
    model = ebmppl.load(EXAMPLES / "ising.ebm")
    idata = run(model, "pt", 0, chains=2, draws=20, warmup=10, temperatures=3, discrete="gwg")
    assert "discrete_acceptance_rate" in idata.sample_stats
    assert idata.sample_stats.sizes["pair"] == 2


@pytest.mark.parametrize("knob, value", [("max_temperature", 1.0), ("max_temperature", -3.0),
                                         ("temperatures", 0), ("temperatures", 2.5)])
def test_bad_knobs_are_usage_errors(knob, value):
    with pytest.raises(ebmppl.EbmError) as e:
        ebmppl.sample(ebmppl.parse(WELL_SRC), sampler="pt", progress=False, **{knob: value})
    assert e.value.kind == "usage" and knob in str(e.value)


# ------------------------------------------------------------------ mixing between modes (slow)
def _modes(label, sign, z: float = Z):
    """(R-hat, share of +1, MCSE, within z MCSE of 1/2) of a mode indicator (chains, draws)."""
    ind = (np.asarray(sign) > 0).astype(np.float64)
    rhat, share, se = float(diagnostics.rhat(ind)), float(ind.mean()), float(diagnostics.mcse(ind))
    ok = bool(se > 0 and abs(share - 0.5) <= z * se)
    print(f"{label}: R-hat {rhat:.4f}, share +1 {share:.4f} (mcse {se:.4f}), per chain {ind.mean(axis=1)}")
    return rhat, share, se, ok


@pytest.mark.slow
def test_deep_double_well_pt_mixes_where_mala_does_not():
    model = ebmppl.parse(DEEP_WELL_SRC)
    pt = run(model, "pt", 21, chains=4, draws=6000, warmup=1000, temperatures=6, max_temperature=20.0)
    x0 = draws_of(pt, "x")[..., 0]
    rhat, share, se, ok = _modes("pt", x0)
    assert rhat < 1.01 and ok, (rhat, share, se)
    assert float(diagnostics.rhat(x0)) < 1.01
    mala = run(model, "mala", 21, chains=4, draws=6000, warmup=1000)
    m_rhat, _, _, m_ok = _modes("mala", draws_of(mala, "x")[..., 0])
    assert not (m_rhat < 1.01 and m_ok)  # each MALA chain stays in its starting well


@pytest.mark.slow
def test_ising_8x8_pt_flips_magnetization_where_gibbs_does_not():
    model = ebmppl.load(EXAMPLES / "ising.ebm", data={"L": 8, "T": 2.0})
    pt = run(model, "pt", 22, chains=4, draws=8000, warmup=1000, temperatures=8, max_temperature=4.0)
    mag = draws_of(pt, "s").mean(axis=(2, 3))
    rhat, share, se, ok = _modes("pt", mag)
    assert rhat < 1.01 and ok, (rhat, share, se)
    gibbs = run(model, "gibbs", 22, chains=4, draws=8000, warmup=1000)
    g_rhat, _, _, g_ok = _modes("gibbs", draws_of(gibbs, "s").mean(axis=(2, 3)))
    assert not (g_rhat < 1.01 and g_ok)


def test_sample_pt_on_the_command_line(tmp_path, capsys):
    from ebmppl.cli import main
    model = tmp_path / "well.ebm"
    model.write_text(WELL_SRC)
    out = tmp_path / "out"
    assert main(["sample", str(model), "--sampler", "pt", "--temperatures", "3", "--max-temperature", "5",
                 "--chains", "2", "--draws", "50", "--warmup", "40", "--out", str(out), "--no-progress", "-q"]) == 0
    idata = diagnostics.from_netcdf(out / "samples.nc")
    assert idata.sample_stats.sizes["pair"] == 2
    np.testing.assert_allclose(idata.sample_stats["temperature"].values[..., -1], 5.0, rtol=1e-5)
    assert main(["sample", str(model), "--sampler", "pt", "--max-temperature", "1", "--out", str(out)]) == 2
    assert "--max-temperature" in capsys.readouterr().err


def test_diagnose_warns_about_a_pair_that_rarely_swaps():
    rng = np.random.default_rng(0)
    rates = np.broadcast_to([0.6, 0.01, 0.5], (4, 100, 3))
    idata = diagnostics.to_inference_data({"x": rng.normal(size=(4, 100))}, {"swap_acceptance_rate": rates}, {},
                                          {}, {"sampler": "pt"})
    d = ebmppl.diagnose(idata)
    assert d.swap_rates == pytest.approx((0.6, 0.01, 0.5))
    assert d.kinds == ["swaps"] and "pair 1-2: 0.010" in str(d)


def test_a_constrained_variable_is_tempered_without_its_jacobian():
    """s ~ gamma(3, 2) on (0, ∞), sampled on log s: the hot replicas see exp(-β E) |J|, and the β = 1 draws
    have the exact mean 1.5 and second moment 3 (a Jacobian tempered with the energy would bias both)."""
    model = ebmppl.parse("var s : positive\ns ~ gamma(3, 2)\n")
    idata = run(model, "pt", 13, chains=4, draws=1000, warmup=300, temperatures=3, max_temperature=3.0)
    s = draws_of(idata, "s")
    check_means([("pt E[s]", s, 1.5), ("pt E[s^2]", s ** 2, 3.0)])
