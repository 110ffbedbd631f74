"""Values a caller hands to the samplers and estimators — params, starting points, const overrides — checked
where they enter, against the model's declarations, by the domain table's :func:`~ebmppl.model.domains.contains`.

Every check raises an ``error[data]`` naming the value (``params['s']``, ``init['x']``), the element and the
domain; values that are JAX tracers (inside a caller's ``jit``) are left alone. Arrays are admitted as
:mod:`ebmppl.io.values` admits those read from files (finite in the float type ebmppl computes in, inside
their domain after that cast); params get the very check loaded params get (:func:`ebmppl.io.check_params`).

    >>> check_values(model, {"x": -1.0}, model.vars, "init")
    Traceback (most recent call last):
    ...
    ebmppl.errors.EbmError: init['x']: -1 is outside the domain positive of 'x'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional

import jax
import numpy as np

from ..errors import EbmError
from ..io import check_params as check_params_of
from ..io import values as admitted
from ..model import domains


def check_params(model, params, what: str = "params") -> Optional[dict]:
    """``params`` when it holds every param of ``model``, each with its declared shape, finite and inside its
    domain (the values by :func:`ebmppl.io.check_params`, the check loaded params get); else an ``error[data]``.

    Shapes come from the declarations, so a repeated call traces nothing; only a network's weights need
    ``model.init_params`` traced for theirs."""
    if params is None or _tracer(params):
        return params
    _mapping(params, what, "param name -> array")
    if any(s.domain.row.network for s in model.params):
        check_params_of(model, params)
        return params
    _names(params, {s.name for s in model.params}, what, "param", "fit the model or start from "
           "model.init_params(0)", "params")
    for s in model.params:
        arr = _numbers(params[s.name], f"{what}['{s.name}']")
        want = tuple(model.lowered.shapes[s.name])
        if tuple(arr.shape) != want:
            raise EbmError("data", f"{what}['{s.name}'] has shape {list(arr.shape)}; '{s.name}' is declared "
                                   f"{s.type_str()} with shape {list(want)}")
    check_params_of(model, params, shapes=False)
    return params


def check_consts(model, consts, what: str = "consts") -> Optional[dict]:
    """Const overrides given at call time: every key a const of ``model``, each value of its shape and domain."""
    if consts is None:
        return None
    _mapping(consts, what, "const name -> value")
    specs = {s.name: s for s in model.consts}
    _names(consts, set(specs), what, "const", None, "consts", need_all=False)
    for name, value in consts.items():
        _check(value, specs[name], model.lowered, f"{what}['{name}']")
    return consts


def check_values(model, values, specs, what: str, chain_axis: bool = False, others: bool = False,
                 complete: bool = False, chains: Optional[int] = None) -> bool:
    """Named values of vars and latents (a starting point ``init``, rows of data): each spec's value finite and
    inside its domain, with its declared shape (after a leading chain or row axis when ``chain_axis``). A key that
    names no var or latent is an error unless ``others`` (data rows may carry labels and ids); a spec without a
    value is one when ``complete`` (a starting point needs them all). With ``chains``, the values either all have
    a leading axis of one row a chain or none has. Returns whether they have the leading axis."""
    _mapping(values, what, "var name -> value")
    missing = [s.name for s in specs if s.name not in values]
    if complete and missing:
        raise EbmError("sample", f"{what} has no value for {', '.join(repr(m) for m in missing)}",
                       hint=f"give every var and latent, or leave {what}=None for random starts")
    if not others:
        known = {s.name for s in model.random}
        _names(values, known, what, "var or latent", None, "vars and latents", need_all=False)
    given = [s for s in specs if s.name in values]
    for s in given:
        _check(values[s.name], s, model.lowered, f"{what}['{s.name}']", lead=1 if chain_axis else 0)
    lead = {s.name: np.ndim(values[s.name]) == len(model.lowered.shapes[s.name]) + 1 for s in given}
    if chains is not None:
        _per_chain(values, lead, what, chains)
    return any(lead.values())


def _per_chain(values, lead: dict, what: str, chains: int) -> None:
    if len(set(lead.values())) > 1:
        raise EbmError("data", f"{what} gives some values one a chain and others once ("
                       + ", ".join(f"'{n}'" for n, a in lead.items() if a) + " with a chain axis)",
                       hint="give every value once, or every value with one row a chain")
    for name, has in lead.items():
        if has and np.shape(values[name])[0] != chains:
            raise EbmError("data", f"{what}['{name}'] has {np.shape(values[name])[0]} rows, one a chain, for "
                                   f"{chains} chains", hint="give one value, or one row a chain")


# ---------------------------------------------------------------- pieces
def _mapping(value, what: str, of: str) -> None:
    if not isinstance(value, Mapping):
        raise EbmError("data", f"{what} must be a dict ({of}), not {type(value).__name__}")


def _names(given: Mapping, known: set, what: str, role: str, hint: Optional[str], roles: str,
           need_all: bool = True) -> None:
    if need_all:
        missing = sorted(known - set(given))
        if missing:
            raise EbmError("data", f"{what} has no value for {role} {', '.join(repr(m) for m in missing)}",
                           hint=hint)
    unknown = sorted(str(k) for k in set(given) - known)
    if unknown:
        have = ", ".join(sorted(known)) or "none"
        raise EbmError("data", f"{what} has a value for '{unknown[0]}', which is not a {role} of the model",
                       hint=f"the model's {roles}: {have}")


def _tracer(value) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(value))


def _numbers(value, where: str, booleans: bool = False) -> np.ndarray:
    """``value`` as a NumPy array of numbers (text and objects are refused; booleans too, unless ``booleans``)."""
    try:
        arr = np.asarray(value)
    except Exception:  # a ragged list, an object NumPy cannot hold
        raise EbmError("data", f"{where} is not an array of numbers ({type(value).__name__})") from None
    if arr.dtype.kind not in ("biuf" if booleans else "iuf"):
        raise EbmError("data", f"{where} holds {arr.dtype} values, not numbers")
    return arr


def _check(value, spec, low, where: str, lead: int = 0) -> None:
    """One value of ``spec``: numbers, its declared shape (after ``lead`` leading axes), finite, inside its
    domain."""
    if _tracer(value):
        return
    arr = _numbers(value, where, booleans=spec.domain.discrete)
    want = tuple(low.shapes[spec.name])
    if tuple(arr.shape[lead:]) != want or arr.ndim != len(want) + lead:
        if not (lead and arr.shape == want):  # a value without the optional leading axis
            raise EbmError("data", f"{where} has shape {list(arr.shape)}; '{spec.name}' is declared "
                                   f"{spec.type_str()} with shape {list(want)}")
    bad = admitted.first_bad(arr, spec.domain.kind, low.domain_args[spec.name])
    if bad is not None:
        raise EbmError("data", f"{where}{_at(bad.index)}: {admitted.describe(bad, _domain(spec, low), spec.name)}",
                       hint=admitted.hint(bad) or ("give finite numbers" if bad.why == "nonfinite"
                                                   else f"give {spec.domain.row.described}"))
    at = domains.first_outside(spec.domain.kind, low.domain_args[spec.name], arr)  # vectors too (a simplex)
    if at is not None:
        raise EbmError("data", f"{where}{_at(at[:-1])} is not {spec.domain.row.described}",
                       hint=f"give {spec.domain.row.described}")


def _at(index: tuple) -> str:
    return f" at {list(index)}" if index else ""


def _domain(spec, low) -> str:
    args = low.domain_args.get(spec.name, ())
    return str(domains.Domain(spec.domain.kind, tuple(args))) if args else str(spec.domain)
