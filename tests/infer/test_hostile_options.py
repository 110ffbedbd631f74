"""ebmppl.sample with hostile keywords: every knob, params, init and const override is checked where it enters
(one table of knob -> domain in ebmppl/infer/options.py), before anything is compiled; the error names the
keyword and the value; nothing ever comes back as NaN draws."""

from __future__ import annotations

import importlib
import math
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl as ebm
from ebmppl.errors import EbmError
from ebmppl.infer import KernelOptions, Layout
from ebmppl.infer.options import KNOBS, prng_key

S = importlib.import_module("ebmppl.infer.sample")  # the module (the package exports the function)
MODEL = "var x : positive\nlatent s : binary\nparam r : positive = 1.0\nfactor f = x / r + s * x\n"
QUICK = dict(sampler="mala", chains=1, draws=5, warmup=5, progress=False, verbose=False)


@pytest.fixture(scope="module")
def model():
    return ebm.parse(MODEL, "m.ebm")


@pytest.fixture
def nothing_compiles(monkeypatch):
    """A call that gets past the checks reaches Target: make that an error the test can see."""
    def fail(*a, **k):
        raise AssertionError("the hostile value got past the checks")
    monkeypatch.setattr(S, "Target", fail)


@pytest.mark.parametrize("knob, value, phrase", [
    ("chains", 0, "chains= must be a whole number, 1 or more; got 0"),
    ("chains", -2, "chains="), ("chains", 2.5, "chains="), ("chains", True, "chains="), ("chains", "4", "chains="),
    ("draws", -1, "draws= must be a whole number, 1 or more; got -1"), ("draws", math.nan, "draws="),
    ("warmup", -1, "warmup= must be a whole number, 0 or more"), ("warmup", math.inf, "warmup="),
    ("thin", 0, "thin="), ("thin", 0.5, "thin="),
    ("step_size", math.nan, "step_size= must be a number above 0; got nan"), ("step_size", 0.0, "step_size="),
    ("step_size", -0.1, "step_size="), ("step_size", math.inf, "step_size="),
    ("target_accept", 1.5, "target_accept= must be a number strictly between 0 and 1; got 1.5"),
    ("target_accept", 0.0, "target_accept="), ("target_accept", 1.0, "target_accept="),
    ("target_accept", math.nan, "target_accept="),
    ("gwg_steps", 0, "gwg_steps="),
    ("temperatures", 0, "temperatures="), ("temperatures", 2.5, "temperatures="),
    ("max_temperature", 0.5, "max_temperature="), ("max_temperature", math.inf, "max_temperature="),
    ("max_temperature", math.nan, "max_temperature="),
    ("chain_method", "threads", "chain_method= must be one of vectorized, parallel, sequential"),
    ("discrete", "metropolis", "discrete= must be one of gibbs, gwg"),
    ("adapt_mass", "yes", "adapt_mass= must be True or False"), ("adapt_step", 1, "adapt_step="),
])
def test_each_knob_is_checked_before_anything_runs(model, nothing_compiles, knob, value, phrase):
    with pytest.raises(EbmError) as info:
        ebm.sample(model, **{**QUICK, knob: value})
    assert info.value.kind == "usage" and phrase in info.value.message


def test_the_dataclasses_check_their_knobs_too():
    with pytest.raises(EbmError, match="chains="):
        Layout(chains=0)
    with pytest.raises(EbmError, match="target_accept="):
        KernelOptions(target_accept=2.0)
    assert Layout(chains=np.int64(3)).chains == 3 and isinstance(Layout(chains=np.int64(3)).chains, int)
    assert KernelOptions(step_size=lambda t: 0.1).step_size(0) == 0.1  # ULA's schedule stays a callable
    assert set(KNOBS) == {"chains", "draws", "warmup", "thin", "step_size", "target_accept", "gwg_steps",
                          "temperatures", "max_temperature"}


@pytest.mark.parametrize("sampler", ["magic", "", None, 3, "NUTS"])
def test_unknown_sampler(model, nothing_compiles, sampler):
    with pytest.raises(EbmError, match="unknown sampler") as info:
        ebm.sample(model, **{**QUICK, "sampler": sampler})
    assert info.value.kind == "sample"


@pytest.mark.parametrize("key, phrase", [(-1, "0 or more"), (1.5, "whole number"), (2 ** 32, "4294967295"),
                                         (True, "whole number"), ("0", "whole number")])
def test_seeds(model, nothing_compiles, key, phrase):
    with pytest.raises(EbmError, match=phrase):
        ebm.sample(model, **QUICK, key=key)


def test_a_key_is_taken_as_it_is():
    k = jax.random.PRNGKey(3)
    assert prng_key(k) is k
    assert np.array_equal(prng_key(7), jax.random.PRNGKey(7))


@pytest.mark.parametrize("params, phrase", [
    ({"r": np.nan}, "params['r'] is not finite"),
    ({"r": -1.0}, "outside the domain positive of param 'r'"),
    ({"r": 0.0}, "outside the domain positive"),
    ({"r": 1e39}, "too large"),
    ({"r": np.array([1.0, 2.0])}, "shape"),
    ({"r": "one"}, "not numbers"),
    ({}, "no value for param 'r'"),
    ({"r": 1.0, "q": 2.0}, "'q'"),
    ([1.0], "must be a dict"),
])
def test_params(model, nothing_compiles, params, phrase):
    with pytest.raises(EbmError, match=re.escape(phrase)) as info:
        ebm.sample(model, **QUICK, params=params)
    assert info.value.kind == "data"


@pytest.mark.parametrize("init, phrase", [
    ({"x": -1.0, "s": 0.0}, "init['x']: -1 is outside the domain positive of 'x'"),
    ({"x": 0.0, "s": 0.0}, "outside the domain positive"),
    ({"x": np.nan, "s": 0.0}, "init['x']: value is nan"),
    ({"x": np.inf, "s": 0.0}, "value is inf"),
    ({"x": 1e39, "s": 0.0}, "too large"),
    ({"x": 1.0, "s": 0.5}, "outside the domain binary"),
    ({"x": 1.0, "s": 2.0}, "outside the domain binary"),
    ({"x": 1.0, "s": 0.0, "y": 1.0}, "'y', which is not a var or latent"),
    ({"x": "a", "s": 0.0}, "not numbers"),
    ({"x": np.ones((2, 2)), "s": 0.0}, "shape"),
    ({"x": np.array([1.0, 2.0, 3.0]), "s": np.zeros(3)}, "3 rows, one a chain, for 2 chains"),
    ({"x": np.array([1.0, 2.0]), "s": 0.0}, "some values one a chain"),
])
def test_init(model, nothing_compiles, init, phrase):
    with pytest.raises(EbmError, match=re.escape(phrase)) as info:
        ebm.sample(model, **{**QUICK, "chains": 2}, init=init)
    assert info.value.kind == "data"


def test_init_missing_a_value_keeps_its_message(model, nothing_compiles):
    with pytest.raises(EbmError, match="init has no value for 's'"):
        ebm.sample(model, **QUICK, init={"x": 1.0})


def test_const_overrides(nothing_compiles):
    m = ebm.parse("const c : positive = 1.0\nvar x : real\nfactor f = x^2 / c\n")
    with pytest.raises(EbmError, match="outside the domain positive"):
        ebm.sample(m, **QUICK, consts={"c": -1.0})
    with pytest.raises(EbmError, match="'d', which is not a const"):
        ebm.sample(m, **QUICK, consts={"d": 1.0})


@pytest.mark.parametrize("layout, phrase", [(dict(chains=1000, draws=10 ** 6), "would keep"),
                                            (dict(thin=1e300), "iterations a chain"),
                                            (dict(warmup=2 ** 40), "iterations a chain")])
def test_a_run_too_large_is_a_limit(model, nothing_compiles, layout, phrase):
    with pytest.raises(EbmError, match=phrase) as info:
        ebm.sample(model, **{**QUICK, **layout})
    assert info.value.kind == "limit"


def test_valid_options_and_values_still_sample(model):
    idata = ebm.sample(model, **{**QUICK, "chains": 2}, params={"r": 2.0}, key=np.int64(3),
                       init={"x": jnp.array([0.5, 1.0]), "s": jnp.array([0.0, 1.0])}, target_accept=0.6)
    assert np.all(np.isfinite(idata.posterior["x"].values)) and idata.posterior["x"].shape == (2, 5)


def test_chains_that_run_away_are_warned_about():
    m = ebm.parse("var x : real\nfactor f = 0 * x\n")  # improper: the chains drift without bound
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idata = ebm.sample(m, sampler="nuts", chains=2, draws=50, warmup=50, progress=False, verbose=False)
    assert np.all(np.isfinite(idata.posterior["x"].values))
    assert any("ran away" in str(w.message) and "improper" in str(w.message) for w in caught)


def test_non_finite_draws_are_an_error_not_returned(monkeypatch):
    m = ebm.parse("var x : real\nx ~ normal(0, 1)\n")
    real = S._run_ebm

    def broken(*a, **k):  # a kernel that lets a NaN through
        samples, stats, note = real(*a, **k)
        samples["x"] = samples["x"].copy()
        samples["x"][0, 3] = np.nan
        return samples, stats, note
    monkeypatch.setattr(S, "_run_ebm", broken)
    with pytest.raises(EbmError, match=r"draws of 'x' are not finite \(nan at chain 0, draw 3") as info:
        ebm.sample(m, **QUICK)
    assert info.value.kind == "sample"
