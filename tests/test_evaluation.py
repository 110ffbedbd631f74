"""Evaluation beyond log Z: mixtures of unnormalized components with estimated log Zs, and deep
belief nets stacked from RBMs."""

from __future__ import annotations

import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.partition import log_likelihood
from tests.conftest import DATA


# ---------------------------------------------------- mixtures of unnormalized components
def gaussian_energy(name, m, s):
    """An unnormalized Gaussian exp(−(x − m)^2 / (2 s^2)): log Z = log(s √(2π))."""
    return ebm.parse(f"var x : real\nparam m_{name} : real = {m}\nparam s_{name} : positive = {s}\n"
                     f"factor {name} = (x - m_{name})^2 / (2 * s_{name}^2)")


A, B = (-1.0, 1.3), (2.0, 0.5)  # (mean, sd) of the two components
W = (0.4, 0.6)


def analytic_log_density(x, comps=(A, B), weights=W):
    dens = sum(w * np.exp(-(x - m) ** 2 / (2 * s ** 2)) / (s * np.sqrt(2 * np.pi))
               for w, (m, s) in zip(weights, comps))
    return np.log(dens)


@pytest.fixture(scope="module")
def estimated():
    import jax
    with jax.enable_x64(True):
        return ebm.mixture(W, [gaussian_energy("a", *A), gaussian_energy("b", *B)], logz="estimate")


def test_estimated_component_log_z_match_the_analytic_values(estimated, x64):
    za, zb = estimated.component_logz
    for z, (m, s) in zip((za, zb), (A, B)):
        assert z.method == "quadrature" and z.stderr < 1e-6
        assert abs(z.value - np.log(s * np.sqrt(2 * np.pi))) < 1e-4


def test_the_mixture_is_normalized_and_equals_the_analytic_density(estimated, x64):
    p = estimated.init_params(0)
    assert abs(ebm.logz(estimated, p, method="quadrature").value) < 1e-4  # integrates to one
    xs = np.linspace(-4, 4, 17)
    got = np.array([float(estimated.log_density(p, {"x": x})) for x in xs])
    np.testing.assert_allclose(got, analytic_log_density(xs), atol=1e-4)


def test_the_summary_says_which_log_z_each_component_uses(estimated):
    text = estimated.summary()
    assert "mixture components' log Z" in text
    assert f"a: {np.log(1.3 * np.sqrt(2 * np.pi)):.6g}  (quadrature" in text
    assert f"b: {np.log(0.5 * np.sqrt(2 * np.pi)):.6g}  (quadrature" in text


def test_re_estimating_at_new_params_tracks_them(estimated, x64):
    p = {**estimated.init_params(0), "s_b": np.asarray(0.8)}
    m = ebm.with_component_logz(estimated, p, method="quadrature")
    assert abs(m.component_logz[1].value - np.log(0.8 * np.sqrt(2 * np.pi))) < 1e-4
    got = float(m.log_density(p, {"x": 1.0}))
    assert abs(got - analytic_log_density(1.0, (A, (2.0, 0.8)))) < 1e-4


def test_ais_estimates_carry_their_error_bar(x64):
    dens = ebm.parse("var x : real\nfactor n : x ~ normal(-1, 1.3)")
    m = ebm.mixture(W, [dens, gaussian_energy("b", *B)], logz="estimate", method="ais", runs=128,
                    temperatures=200, step_size=0.5, key=1)
    normalized, z = m.component_logz
    assert normalized.method == "normalized" and normalized.value == 0.0
    assert z.method == "ais" and 0 < z.stderr < 0.1
    assert abs(z.value - np.log(B[1] * np.sqrt(2 * np.pi))) < 4 * z.stderr  # the error bar covers the truth
    assert "b: " in m.summary() and "(ais +/- " in m.summary()


def test_supplied_and_normalized_log_z_are_recorded():
    a = gaussian_energy("a", *A)
    z_a = ebm.LogZ(1.1813, 2e-7, "quadrature", "from ebmppl.logz")
    dens = ebm.parse("var x : real\nfactor n : x ~ normal(2, 0.5)")
    m = ebm.mixture(W, [a, dens], logz=[z_a, None])
    assert m.component_logz == (z_a, ebm.LogZ(0.0, 0.0, "normalized", "a normalized density"))
    m = ebm.mixture(W, [a, gaussian_energy("b", *B)], logz=[1.0, 2.0])
    assert [(z.value, z.method) for z in m.component_logz] == [(1.0, "supplied"), (2.0, "supplied")]
    assert "(supplied)" in m.summary()
    assert [z.method for z in ebm.load("examples/mixture.ebm").component_logz] == ["normalized"] * 2


def test_unnormalized_components_without_log_z_are_an_error():
    a, b = gaussian_energy("a", *A), gaussian_energy("b", *B)
    with pytest.raises(ebm.EbmSemanticError, match="logz='estimate'"):
        ebm.mixture(W, [a, b])
    with pytest.raises(ebm.EbmSemanticError, match="unnormalized but its log Z is None"):
        ebm.mixture(W, [a, b], logz=[1.0, None])
    with pytest.raises(ebm.EbmSemanticError, match="logz must be"):
        ebm.mixture(W, [a, b], logz="guess")
    with pytest.raises(ebm.EbmError, match="has no mixture"):
        ebm.with_component_logz(a)


# ------------------------------------------------------------------- deep belief nets
@pytest.fixture(scope="module")
def digits():
    return np.loadtxt(DATA / "digits_binarized.csv", delimiter=",", skiprows=1)


@pytest.fixture(scope="module")
def net(digits):
    from ebmppl.dbn import stack
    return stack(digits, layers=[16, 8], method="pcd", steps=300, batch_size=20, lr=0.05, optimizer="sgd",
                 average=0.99, key=0)


def test_the_second_layer_trains_on_the_first_layers_hidden_activations(net, digits):
    first, second = net.layers
    assert first.sizes == (64, 16) and second.sizes == (16, 8)
    np.testing.assert_array_equal(first.inputs, digits)
    h = second.inputs
    assert h.shape == (len(digits), 16) and h.min() >= 0 and h.max() <= 1
    assert len(np.unique(h)) > 100  # probabilities p(h = 1 | v), not samples
    np.testing.assert_allclose(h, first.up(digits), atol=1e-6)
    # p(h = 1 | v) of the RBM energy is sigmoid(c + vW)
    want = 1 / (1 + np.exp(-(first.params["c"] + digits @ first.params["W"])))
    np.testing.assert_allclose(h, want, atol=1e-5)


def test_every_layer_improves_its_exact_log_likelihood(net):
    for layer in net.layers:
        fitted = log_likelihood(layer.model, layer.params, {"v": layer.inputs}).mean()
        init = log_likelihood(layer.model, layer.model.init_params(0), {"v": layer.inputs}).mean()
        assert fitted > init + 1.0, (layer.sizes, fitted, init)


def test_free_energies_and_samples_have_the_right_shapes(net, digits):
    f1, f2 = net.free_energies(digits[:50])
    assert f1.shape == (50,) and f2.shape == (50,) and np.all(np.isfinite(f1)) and np.all(np.isfinite(f2))
    np.testing.assert_allclose(f1, net.layers[0].free_energy(digits[:50]), rtol=1e-6)
    top = net.sample_top(12, key=3, sweeps=100)  # block Gibbs on the 16-8 RBM, by ebmppl.sample
    assert top.shape == (12, 16) and set(np.unique(top)) <= {0.0, 1.0}
    p = net.down(top, key=4)
    assert p.shape == (12, 64) and p.min() >= 0 and p.max() <= 1
    np.testing.assert_allclose(p, net.layers[0].down(top), rtol=1e-6)  # two layers: p(v | h_1) directly
    v = net.down(top, key=4, mean=False)
    assert v.shape == (12, 64) and set(np.unique(v)) <= {0.0, 1.0}


def test_stack_rejects_bad_input():
    from ebmppl.dbn import stack
    with pytest.raises(ebm.EbmError, match=r"values in \[0, 1\]"):
        stack(np.full((5, 4), 2.0), layers=[2], steps=1)
    with pytest.raises(ebm.EbmError, match="activations"):
        stack(np.zeros((5, 4)), layers=[2], steps=1, activations="means")


# -------------------------------------------------------------------- command line
@pytest.mark.parametrize("cmd", ["logz", "score"])
def test_cli_help(cmd, capsys):
    from ebmppl.cli import main
    with pytest.raises(SystemExit) as e:
        main([cmd, "--help"])
    assert e.value.code == 0 and f"usage: ebmppl {cmd}" in capsys.readouterr().out


# ------------------------------------------------------------------------- examples
@pytest.mark.slow
def test_the_dbn_example_writes_its_samples(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT
    proc = subprocess.run([sys.executable, "examples/dbn.py", "--steps", "300", "--out", str(tmp_path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "layer 2 16-8" in proc.stdout and (tmp_path / "samples.png").stat().st_size > 1000


@pytest.mark.slow
def test_the_moons_classifier_example_is_accurate():
    import importlib.util

    from tests.conftest import ROOT
    spec = importlib.util.spec_from_file_location("classify_moons", ROOT / "examples" / "classify_moons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([]) >= 0.95
