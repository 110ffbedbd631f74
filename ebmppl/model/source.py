"""From ``.ebm`` source to a checked Model: :func:`parse` (text) and :func:`load` (a file).

Both check the program (:mod:`ebmppl.model.check`), bind consts when data is given and lower the
model once, so shape errors point at the source now rather than at the first use.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..dsl.parse import parse as parse_program
from ..dsl.parse import parse_file
from .check import check
from .lower import lower
from .spec import Model


def _finish(model: Model, data=None) -> Model:
    if data is not None:
        model = model.bind(data)
    if model.is_bound:
        lower(model)  # checks shapes now, at the source
    else:
        lower(model, placeholders=True)
    return model


def parse(text: str, name: str = "<string>", data=None) -> Model:
    """Parse and check .ebm source text; bind consts from ``data`` (dict or JSON path) if given."""
    return _finish(check(parse_program(text, name), name=Path(name).stem if name[:1] != "<" else "model"), data)


def load(path, data=None) -> Model:
    """Load, parse and check a .ebm file; bind consts from ``data`` (dict or JSON path) if given."""
    model = check(parse_file(path), name=Path(path).stem)
    return _finish(replace(model, source=str(path)), data)
