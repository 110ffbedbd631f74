"""Fast start: ``import ebmppl``, ``ebmppl --help`` and ``--version`` import neither JAX, NumPyro, ArviZ nor
matplotlib (each checked in a fresh interpreter's ``sys.modules``), and every public name still resolves to
the object its module defines. Times are measured in ``benchmarks/startup.py``, not here."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tools import structure as S

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("jax", "numpyro", "arviz", "matplotlib", "optax", "xarray", "pandas")


def _modules_after(code: str) -> dict:
    """Run ``code`` in a fresh interpreter; which of HEAVY it imported, and what it printed before."""
    probe = code + f"\nimport sys, json\nprint(json.dumps({{m: m in sys.modules for m in {HEAVY!r}}}))\n"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env=S.clean_env())
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    return {"loaded": json.loads(lines[-1]), "printed": "\n".join(lines[:-1])}


def test_import_ebmppl_imports_no_heavy_library():
    r = _modules_after("import ebmppl\nprint(ebmppl.__version__)")
    assert not any(r["loaded"].values()), r["loaded"]
    assert r["printed"] == __import__("ebmppl").__version__


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["sample", "--help"], ["fit", "--help"]])
def test_help_and_version_import_no_heavy_library(argv):
    code = ("from ebmppl.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n")
    r = _modules_after(code)
    assert not any(r["loaded"].values()), r["loaded"]
    assert ("ebmppl 0.1.0" if argv == ["--version"] else "usage: ebmppl") in r["printed"]


def test_a_command_still_imports_what_it_runs():
    r = _modules_after("from ebmppl.cli import main\nimport io, contextlib\n"
                       "with contextlib.redirect_stdout(io.StringIO()):\n"
                       "    assert main(['check', 'examples/ring.ebm']) == 0\n")
    assert r["loaded"]["jax"]


def test_every_public_name_resolves_to_its_module_object():
    import ebmppl
    for name in ebmppl.__all__:
        where = ebmppl._EXPORTS[name]
        home = importlib.import_module(f"ebmppl.{where or name}")
        assert getattr(ebmppl, name) is (getattr(home, name) if where else home), name
    ns: dict = {}
    exec("from ebmppl import fit, sample, Model, dists, EbmError", ns)
    assert ns["fit"] is ebmppl.fit and ns["dists"] is importlib.import_module("ebmppl.dists")
    assert set(ebmppl.__all__) <= set(dir(ebmppl))
    assert set(ebmppl._EXPORTS) == set(ebmppl.__all__)
    with pytest.raises(AttributeError, match="no attribute 'not_a_name'"):
        ebmppl.not_a_name  # noqa: B018


def test_the_type_checking_imports_say_what_the_lazy_table_says():
    """The ``if TYPE_CHECKING:`` imports (for type checkers and tools/structure.py) and ``_EXPORTS`` agree."""
    import ebmppl
    tree = ast.parse((ROOT / "ebmppl" / "__init__.py").read_text(encoding="utf-8"))
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    seen = {}
    for node in block.body:
        for a in node.names:
            seen[a.name] = "" if node.module is None else node.module
    assert seen == ebmppl._EXPORTS


def test_the_parser_choices_are_the_implementations_tables():
    from ebmppl.cli import choices
    from ebmppl.infer.sample import SAMPLERS
    from ebmppl.partition import METHODS as LOGZ_METHODS
    from ebmppl.training.api import METHODS
    from ebmppl.training.trainer import OPTIMIZERS
    assert choices.SAMPLERS == SAMPLERS and choices.FIT_METHODS == METHODS
    assert choices.OPTIMIZERS == tuple(OPTIMIZERS) and choices.LOGZ_METHODS == LOGZ_METHODS


def test_the_exit_codes_are_the_commands_exit_codes():
    import ebmppl.cli as cli
    from ebmppl.cli import commands
    for name in ("EXIT_OK", "EXIT_NUMERIC", "EXIT_USAGE_OR_MODEL", "EXIT_WARNINGS", "EXIT_INTERRUPTED"):
        assert getattr(cli, name) == getattr(commands, name), name


def test_diagnose_without_figures_writes_the_report_only(tmp_path, capsys):
    """``ebmppl diagnose --no-figures`` (the figures take most of its time): summary and report, no PNG, and a
    figure an earlier report left is removed rather than left to mislead."""
    import numpy as np

    from ebmppl import diagnostics as D
    from ebmppl.cli import main
    rng = np.random.default_rng(0)
    idata = D.to_inference_data({"mu": rng.normal(size=(4, 500))}, {"diverging": np.zeros((4, 500), bool)}, {}, {},
                                {"sampler": "rwmh"})
    D.to_netcdf(idata, tmp_path / "samples.nc")
    (tmp_path / "trace.png").write_bytes(b"old")
    assert main(["diagnose", str(tmp_path / "samples.nc"), "--no-figures", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "0 figures (--no-figures)" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "samples.nc", "summary.csv"]
    assert "figures were switched off" in (tmp_path / "report.md").read_text()
