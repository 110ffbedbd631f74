"""The domain property: wherever a value enters ebmppl — a literal, a const default, bound data, params given to
``model.energy`` / ``ebmppl.sample`` / ``ebmppl.logz``, a starting point, a loaded params file — ebmppl either
refuses it with an :class:`~ebmppl.errors.EbmError` or the value was legal.

Legality is decided independently of the code under test, by the domain table's ``contains``: finite, inside
the domain as given, and still inside once cast to the float type ebmppl computes in (``1e39`` is ``inf`` and
``1e-50`` is ``0`` in float32). The models come from the expression fuzzer of ``test_fuzz.py`` (its operators,
leaves and uses), with one more declaration whose value is hostile: NaN, infinities, negative zero, numbers just
outside a bound, huge and tiny numbers, fractions where whole numbers belong, arrays of the wrong shape. Each
test runs a few dozen examples with a fixed seed (fast enough for ``make test``); the ``slow`` variants run ten
times as many.
"""

from __future__ import annotations

import importlib
import math
from unittest import mock

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ebmppl
from ebmppl.errors import EbmError
from ebmppl.model import domains
from tests.reliability.test_fuzz import _HEAD, _LEAVES, _USES, _grow, front_end

FAST, SLOW = 1, 10  # example counts are multiplied by these
SETTINGS = dict(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large])

# numbers an attacker would try: non-finite, signed zeros, bounds and just past them, huge, tiny, fractional
HOSTILE = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.0, 2.5, 3.0, 7.0, 1e-7, 1e-45,
           1e-50, 1e38, 1e39, -1e39, 1e300, 1e12, 0.999999999, 1.0000001, 4294967296.0]

# a declaration of each kind that takes a scalar literal: (domain as written, kind, bound args)
DECLS = [("real", "real", ()), ("positive", "positive", ()), ("unit", "unit", ()),
         ("interval(-1, 2)", "interval", (-1.0, 2.0)), ("binary", "binary", ()), ("spin", "spin", ()),
         ("categorical(3)", "categorical", (3,)), ("int", "int", ())]
PARAM_DECLS = [d for d in DECLS if domains.lookup(d[1]).param]


def compute_dtype():
    return np.dtype(jnp.result_type(float))


def legal(kind: str, args, value) -> bool:
    """Finite, inside ``kind(args)`` as given and once cast to the compute type (the domain table's test)."""
    try:
        a = np.asarray(value, np.float64)
    except (TypeError, ValueError):
        return False
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        cast = a.astype(compute_dtype())
    row = domains.lookup(kind)
    if (row.integer or row.integer_data) and np.any(np.abs(a) >= 2 ** 31):  # stored as int32
        return False
    return bool(np.all(np.isfinite(a)) and np.all(np.isfinite(cast))
                and np.all(domains.contains(kind, tuple(args), a)) and np.all(domains.contains(kind, tuple(args), cast)))


def literal(x: float) -> str:
    """How a number is written in a .ebm file (NaN and the infinities as names, which a model may not know)."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return repr(x)


# ------------------------------------------------------------- strategies
def energies():
    """Energies over the fuzzer's head (x: real[3], y: real, a: positive param, v: binary[3] latent): a plain one
    (so most examples reach the point under test) or one from the fuzzer's expression grammar."""
    fuzzed = st.tuples(st.recursive(st.sampled_from(_LEAVES), _grow, max_leaves=6), st.sampled_from(_USES)).map(
        lambda t: t[1].format(t[0]))
    return st.one_of(st.just("factor f = 0.5 * sum(x^2) + y^2 / a"), fuzzed)


values = st.one_of(st.sampled_from(HOSTILE), st.floats(allow_nan=True, allow_infinity=True, width=64))


def shaped(shape):
    """A hostile value of ``shape``: a scalar, an array of that shape, or one of another shape."""
    arrays = st.lists(values, min_size=int(np.prod(shape)), max_size=int(np.prod(shape))).map(
        lambda v: np.asarray(v, np.float64).reshape(shape))
    return st.one_of(values, arrays, st.lists(values, min_size=1, max_size=4).map(np.asarray))


def model_or_none(text: str):
    got = front_end(text)
    return None if isinstance(got, EbmError) else got


def refused_or_legal(call, kind, args, value, *also) -> None:
    """``call()`` raises an EbmError, or ``value`` (and each of ``also``, values ebmppl stored) is legal."""
    try:
        call()
    except EbmError:
        return
    except Accepted:
        pass
    assert legal(kind, args, value), f"accepted {value!r}, which is not in {kind}{tuple(args) or ''}"
    for stored in also:
        assert legal(kind, args, stored()), f"stored {stored()!r} for {value!r}, outside {kind}{tuple(args) or ''}"


class Accepted(Exception):
    """Raised by a stand-in for the expensive step after the checks: the value got through them."""


def stop_after_checks(module, name):
    """Replace ``module.name`` (the first step after a function's checks) by one that raises Accepted."""
    def accept(*a, **k):
        raise Accepted()
    return mock.patch.object(module, name, accept)


# ------------------------------------------------------- literals, defaults
def check_declared_literal(n: int):
    @settings(max_examples=60 * n, **SETTINGS)
    @given(st.sampled_from(["const", "param"]), st.sampled_from(DECLS), st.sampled_from(["", "[2]"]), values,
           energies())
    def run(role, decl, shape, value, energy):
        written, kind, args = decl
        if role == "param" and decl not in PARAM_DECLS:
            role = "const"
        text = f"{role} c : {written}{shape} = {literal(value)}\n" + _HEAD + energy + "\n"
        model = model_or_none(text)
        if model is None:
            return
        stored = model.init_params(0)["c"] if role == "param" else model.lowered.const_env["c"]
        assert legal(kind, args, value), f"{text!r} was accepted"
        assert legal(kind, args, np.asarray(stored)), f"{text!r} stored {stored!r}"
    run()


def test_literals_and_const_defaults():
    check_declared_literal(FAST)


@pytest.mark.slow
def test_literals_and_const_defaults_many():
    check_declared_literal(SLOW)


# -------------------------------------------------------------- bound data
def check_bound_data(n: int):
    @settings(max_examples=60 * n, **SETTINGS)
    @given(st.sampled_from(DECLS), st.sampled_from([(), (2,)]), st.data(), energies())
    def run(decl, shape, data, energy):
        written, kind, args = decl
        dims = f"[{', '.join(map(str, shape))}]" if shape else ""
        model = model_or_none(f"const c : {written}{dims}\n" + _HEAD + energy + "\n")
        if model is None:
            return
        value = data.draw(shaped(shape))
        bound = []
        refused_or_legal(lambda: bound.append(model.bind({"c": value})), kind, args, value,
                         lambda: bound[0].lowered.const_env["c"])
    run()


# sizes stay small: a bound size is allocated (a size limit is the binding's job, tested with the data files)
SIZES = [math.nan, math.inf, -math.inf, -1.0, -0.0, 0.0, 0.5, 2.5, 3.0, 1e-45, 4.0000001, -3.0]


def check_size_data(n: int):
    @settings(max_examples=10 * n, **SETTINGS)
    @given(st.sampled_from(SIZES))
    def run(value):
        model = front_end("const n : int\nvar w : real[n]\nfactor f = sum(w^2)\n")
        assert not isinstance(model, EbmError)
        refused_or_legal(lambda: model.bind({"n": value}).lowered, "count", (), value)
    run()


def test_bound_data():
    check_bound_data(FAST)


def test_bound_sizes():
    check_size_data(FAST)


@pytest.mark.slow
def test_bound_data_many():
    check_bound_data(SLOW)
    check_size_data(SLOW)


# ------------------------------------------------------------------ params
PARAM_TEXT = "param c : {}{} = {}\n" + _HEAD + "{}\n"


def param_model(decl, shape, energy):
    written, kind, args = decl
    dims = f"[{', '.join(map(str, shape))}]" if shape else ""
    start = {"real": "0.0", "positive": "1.0", "unit": "0.5", "interval": "0.5"}[kind]
    return model_or_none(PARAM_TEXT.format(written, dims, start, energy))


def hostile_params(model, value):
    return {**model.init_params(0), "c": value}


def check_energy_params(n: int):
    @settings(max_examples=30 * n, **SETTINGS)
    @given(st.sampled_from(PARAM_DECLS), st.sampled_from([(), (2,)]), st.data(), energies())
    def run(decl, shape, data, energy):
        model = param_model(decl, shape, energy)
        if model is None:
            return
        value = data.draw(shaped(shape))
        params, point = hostile_params(model, value), model.lowered.example_values()
        refused_or_legal(lambda: model.energy(params, point), decl[1], decl[2], value)
    run()


def check_sample_and_logz_params(n: int):
    S = importlib.import_module("ebmppl.infer.sample")  # the module (the package exports the function)
    G = importlib.import_module("ebmppl.infer.gibbs")

    @settings(max_examples=30 * n, **SETTINGS)
    @given(st.sampled_from(PARAM_DECLS), st.sampled_from([(), (2,)]), st.data(), energies())
    def run(decl, shape, data, energy):
        model = param_model(decl, shape, energy)
        if model is None:
            return
        value = data.draw(shaped(shape))
        params = hostile_params(model, value)
        with stop_after_checks(S, "Target"):
            refused_or_legal(lambda: ebmppl.sample(model, params=params, progress=False, verbose=False),
                             decl[1], decl[2], value)
        with stop_after_checks(G, "layout"):  # AIS lays out the discrete part once params pass
            refused_or_legal(lambda: ebmppl.logz(model, params, method="ais"), decl[1], decl[2], value)
    run()


def check_init(n: int):
    S = importlib.import_module("ebmppl.infer.sample")

    @settings(max_examples=30 * n, **SETTINGS)
    @given(st.sampled_from([d for d in DECLS if d[1] != "int"]), st.sampled_from([(), (2,)]), st.data())
    def run(decl, shape, data):
        written, kind, args = decl
        dims = f"[{', '.join(map(str, shape))}]" if shape else ""
        model = model_or_none(f"var z : {written}{dims}\nfactor g = 0.0 * sum(z)\n" + _HEAD
                              + "factor f = 0.5 * sum(x^2) + y^2\n")
        assert model is not None
        init = {k: np.asarray(v) for k, v in model.lowered.example_values().items()}
        init["z"] = data.draw(shaped(shape))
        with stop_after_checks(S, "Target"):
            refused_or_legal(lambda: ebmppl.sample(model, init=init, sampler="mala", chains=1, progress=False,
                                                   verbose=False), kind, args, init["z"])
    run()


def test_energy_params():
    check_energy_params(FAST)


def test_sample_and_logz_params_and_init():
    check_sample_and_logz_params(FAST)
    check_init(FAST)


@pytest.mark.slow
def test_energy_params_many():
    check_energy_params(SLOW)


@pytest.mark.slow
def test_sample_and_logz_params_and_init_many():
    check_sample_and_logz_params(SLOW)
    check_init(SLOW)


# ----------------------------------------------------------- loaded params
def check_loaded_params(n: int, tmp_path):
    from ebmppl.io import load_params, save_params

    @settings(max_examples=20 * n, **SETTINGS)
    @given(st.sampled_from(PARAM_DECLS), st.sampled_from([(), (2,)]), st.data())
    def run(decl, shape, data):
        model = param_model(decl, shape, "factor f = 0.5 * sum(x^2) + y^2 / a")
        assert model is not None
        value = data.draw(shaped(shape))
        path = tmp_path / "params.npz"
        try:
            save_params(path, model, hostile_params(model, np.asarray(value)))
        except EbmError:
            return
        loaded = []
        refused_or_legal(lambda: loaded.append(load_params(path, model)), decl[1], decl[2], value,
                         lambda: loaded[0]["c"])
    run()


def test_loaded_params(tmp_path):
    check_loaded_params(FAST, tmp_path)


@pytest.mark.slow
def test_loaded_params_many(tmp_path):
    check_loaded_params(SLOW, tmp_path)
