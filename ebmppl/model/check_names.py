"""The checker's naming rules for what ``ebmppl sample`` writes: a var, latent or let is stored beside the
sampler's statistics and the draws' dimensions, so it may not take one of their names.

ArviZ keeps the draws (``posterior``: vars, latents, lets) beside ``sample_stats`` and names every axis:
``chain``, ``draw``, a size const (``N``, then ``N_1`` for a second axis of the same size) or
``x_dim_0``. A variable with one of those names either crashes the run after sampling, losing it, or
silently drops from the saved draws; both rules here refuse it when the model is loaded.
"""

from __future__ import annotations

import re
from typing import Iterable, Optional

from ..dsl import ast as A
from ..errors import EbmSemanticError, Span

# Every name ebmppl.sample writes to sample_stats (ebmppl/infer/sample.py; tests/model/test_decorators.py
# checks that no sampler writes another), and NumPyro's names for the same statistics.
SAMPLE_STATS = frozenset({
    "lp", "diverging", "energy", "step_size", "tree_depth", "accept_prob", "acceptance_rate", "n_steps",
    "num_steps", "mean_tree_accept", "potential_energy", "discrete_acceptance_rate",
})
AXES = frozenset({"chain", "draw"})
_AXIS_NAME = re.compile(r".+_dim_\d+(_1)*$")
# the roles whose values ebmppl.sample stores with the draws (consts go to constant_data, params nowhere)
DRAWN = ("var", "latent", "let")


def reserved(name: str, role: str) -> Optional[str]:
    """Why ``name`` cannot name a ``role`` (``var``, ``latent``, ``let``, ``const``, ``param``); None when it can."""
    if role in DRAWN and name in SAMPLE_STATS:
        return (f"'{name}' is the name of a sample statistic that ebmppl sample writes beside the draws; "
                f"a {role} of that name would clash with it when the draws are saved")
    if role in DRAWN and name in AXES:
        return f"'{name}' is the name of an axis of the saved draws; a {role} of that name cannot be saved"
    if role != "param" and _AXIS_NAME.match(name):
        return (f"'{name}' has the form of an axis name of the saved draws (NAME_dim_0); a {role} of that "
                "name would be lost when they are saved")
    return None


def refuse_reserved(name: str, role: str, span: Optional[Span]) -> None:
    """Raise when :func:`reserved` says no."""
    why = reserved(name, role)
    if why is not None:
        raise EbmSemanticError(why, span, f"rename the {role}")


def axis_names(name: str, shape: tuple) -> list[str]:
    """The axis names ebmppl sample gives a declaration's value: its size consts (``N``, ``N_1``) or ``x_dim_0``."""
    out: list[str] = []
    for i, d in enumerate(shape):
        dim = d.id if isinstance(d, A.Name) else f"{name}_dim_{i}"
        while dim in out:
            dim = f"{dim}_1"
        out.append(dim)
    return out


def refuse_axis_collisions(specs: Iterable, lets: Iterable) -> None:
    """A var, latent, let or array const named like an axis some declaration's draws get (``N_1``)."""
    specs = list(specs)
    axes = {a: s for s in specs for a in axis_names(s.name, s.shape) if isinstance(a, str)}
    for s in specs:
        clash = axes.get(s.name)
        if clash is not None and s.role != "param" and not (s.role == "const" and not s.shape):
            raise EbmSemanticError(f"'{s.name}' is the name of an axis of '{clash.name}' ({clash.type_str()}) "
                                   f"in the saved draws; the {s.role} would be lost when they are saved",
                                   s.span, f"rename the {s.role}")
    for let in lets:
        clash = axes.get(let.name)
        if clash is not None:
            raise EbmSemanticError(f"'{let.name}' is the name of an axis of '{clash.name}' ({clash.type_str()}) "
                                   "in the saved draws; the let would be lost when they are saved",
                                   let.span, "rename the let")
