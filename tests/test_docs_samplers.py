"""docs/samplers.md stays true: its ```python examples run (one script, with four host CPU devices so
the `chain_method="parallel"` example really runs a chain per device), every sampler has a section,
and every option of `ebmppl sample` is documented."""

from __future__ import annotations

import os
import re

from ebmppl.infer.sample import SAMPLERS
from tests.docs_util import ROOT, cli_options, python_blocks, run_blocks, section_names

TEXT = (ROOT / "docs" / "samplers.md").read_text(encoding="utf-8")


def test_doc_has_python_examples():
    assert len(python_blocks(TEXT)) >= len(SAMPLERS), "docs/samplers.md lost its ```python examples"


def test_every_sampler_has_a_section():
    missing = [s for s in SAMPLERS if s not in section_names(TEXT)]
    assert not missing, f"docs/samplers.md has no '### `name`' section for {missing}"
    assert re.search(r"^### Mixed models", TEXT, re.MULTILINE), "the mixed-models section is missing"


def test_every_cli_option_is_documented():
    missing = [o for o in cli_options("sample") if f"`{o}" not in TEXT]
    assert not missing, f"`ebmppl sample` options missing from docs/samplers.md: {missing}"


def test_python_blocks_run(tmp_path):
    xla = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" not in xla:
        xla = (xla + " --xla_force_host_platform_device_count=4").strip()
    run_blocks("docs/samplers.md", TEXT, tmp_path, {"XLA_FLAGS": xla})
