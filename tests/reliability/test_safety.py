"""Safety of files read: nothing is ever unpickled, and a params file is checked against the
model it is loaded into (fingerprint, names, shapes, dtypes, finiteness, domains), with
errors that name the array."""

from __future__ import annotations

import ast
import json
import shutil

import numpy as np
import pytest

import ebmppl
from ebmppl.errors import EbmDataError
from ebmppl.io import load_params, save_params
from tests.conftest import EXAMPLES, ROOT

PACKAGE = ROOT / "ebmppl"
SOURCES = sorted(PACKAGE.rglob("*.py"))
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "cloudpickle", "dill", "joblib", "shelve", "marshal"}


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_no_pickle_anywhere(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    where = lambda node: f"{path.relative_to(ROOT)}:{node.lineno}"  # noqa: E731
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                assert a.name.split(".")[0] not in UNSAFE_MODULES, f"{where(node)}: import {a.name}"
        elif isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in UNSAFE_MODULES, f"{where(node)}: from {node.module}"
        elif isinstance(node, ast.keyword) and node.arg == "allow_pickle":
            assert isinstance(node.value, ast.Constant) and node.value.value is False, \
                f"{where(node)}: allow_pickle must be the literal False"
        elif isinstance(node, ast.Call):
            f = node.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            base = getattr(f.value, "id", "") if isinstance(f, ast.Attribute) else ""
            if name == "load" and base in ("np", "numpy", "jnp"):
                assert any(k.arg == "allow_pickle" for k in node.keywords), \
                    f"{where(node)}: np.load must say allow_pickle=False"
            if name in ("load", "loads") and base in ("torch", "yaml"):
                raise AssertionError(f"{where(node)}: {base}.{name} can run code")


# ------------------------------------------------------------- params
@pytest.fixture(scope="module")
def ring():
    return ebmppl.load(EXAMPLES / "ring.ebm")


@pytest.fixture
def saved(tmp_path, ring):
    path = save_params(tmp_path / "params.npz", ring, {"r": np.float32(1.5), "k": np.float32(4.0)})
    return path


def _rewrite(path, **arrays):
    """Replace the arrays of a params file, keeping its sidecar."""
    np.savez(path, **arrays)


def test_round_trip(saved, ring):
    p = load_params(saved, ring)
    assert float(p["r"]) == 1.5 and float(p["k"]) == 4.0
    meta = json.loads(saved.with_suffix(".json").read_text())
    assert meta["fingerprint"] == ring.fingerprint and meta["model"] == "ring"


def test_params_of_another_model_are_refused(saved):
    other = ebmppl.parse("var x : real[2]\nparam r : positive = 1.0\nparam k : positive = 2.0\n"
                         "factor f = k * (norm(x) - r)^2 + x[0]", "other.ebm")
    with pytest.raises(EbmDataError, match=r"holds params of another model \('ring', fingerprint"):
        load_params(saved, other)


def test_the_fingerprint_travels_with_a_copy(saved, ring, tmp_path):
    copy = tmp_path / "copy" / "p.npz"
    copy.parent.mkdir()
    shutil.copy(saved, copy)
    shutil.copy(saved.with_suffix(".json"), copy.with_suffix(".json"))
    assert float(load_params(copy, ring)["r"]) == 1.5


@pytest.mark.parametrize("arrays, pattern", [
    ({"r": np.zeros(2), "k": np.float64(1.0)}, r"array 'r' has shape \[2\], the model needs \[\]"),
    ({"r": np.float64(1.0)}, r"no array 'k'"),
    ({"r": np.float64(1.0), "k": np.float64(1.0), "w": np.zeros(3)}, r"array 'w' is not a param of this model"),
    ({"r": np.array("abc"), "k": np.float64(1.0)}, r"array 'r' has dtype <U3, not numbers"),
    ({"r": np.array(True), "k": np.float64(1.0)}, r"array 'r' has dtype bool, not numbers"),
    ({"r": np.array(1 + 2j), "k": np.float64(1.0)}, r"array 'r' has dtype complex128, not numbers"),
    ({"r": np.float64(np.nan), "k": np.float64(1.0)}, r"array 'r' is not finite"),
    ({"r": np.float64(-1.0), "k": np.float64(1.0)}, r"array 'r' is outside the domain positive"),
    ({"r": np.array([None], dtype=object), "k": np.float64(1.0)},
     r"cannot read array 'r': it holds Python objects, and ebmppl never unpickles"),
])
def test_bad_params_arrays_are_refused_by_name(saved, ring, arrays, pattern):
    _rewrite(saved, **arrays)
    with pytest.raises(EbmDataError, match=pattern):
        load_params(saved, ring)


@pytest.mark.parametrize("content, pattern", [
    (b"", "not an NPZ file"),
    (b"not a zip at all", "not an NPZ file"),
])
def test_corrupt_params_files_are_refused(saved, ring, content, pattern):
    saved.write_bytes(content)
    with pytest.raises(EbmDataError, match=pattern):
        load_params(saved, ring)


def test_corrupt_sidecar_is_refused(saved, ring):
    saved.with_suffix(".json").write_bytes(b"{\xff")
    with pytest.raises(EbmDataError, match=r"params.json: cannot read"):
        load_params(saved, ring)


def test_cli_refuses_bad_params_with_exit_2(saved, tmp_path, capsys):
    from ebmppl.cli import main
    _rewrite(saved, r=np.zeros(3), k=np.float64(1.0))
    rc = main(["sample", str(EXAMPLES / "ring.ebm"), "--params", str(saved), "--out", str(tmp_path / "s"),
               "--no-progress"])
    err = capsys.readouterr().err
    assert rc == 2 and "array 'r' has shape [3]" in err and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_written_files_get_ordinary_permissions(saved):
    import os
    mask = os.umask(0o022)
    os.umask(mask)
    assert saved.stat().st_mode & 0o777 == 0o666 & ~mask  # not the 0600 of a temporary file
