"""The :class:`Lowered` facade: one bound model's pure JAX functions, composed from the modules of
this package (consts and sizes, the expression compiler, energies, params, transforms, free
energies, the NumPyro model)."""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp

from ...settings import float_dtype
from ...errors import EbmError, EbmSemanticError, EbmShapeError
from .. import library as L
from ..spec import Model, Spec
from . import free_energy as _fe, numpyro_model as _npm, params as _params, transforms as _tr
from .compiler import Compiler, Env
from .energies import check_names, compile_factor, compile_let, compile_tree
from .shapes import shape_of
from .static import bind_consts, domain_args, resolve_shapes


class Lowered:
    """The pure JAX functions of one bound model.

    Attributes:
        model: the model lowered.
        placeholders: unbound consts stand in with placeholder values (only shapes are meaningful).
        unknown: the names of the consts whose values are such stand-ins.
        specs: every declaration by name.
        fmt: renders shapes in messages, naming placeholder sizes.
        static_env, const_env: the consts' values (sizes, axes and bounds are evaluated in the first).
        shapes: the resolved shape of every declaration.
        domain_args: the bound domain arguments of every declaration (``(lo, hi)``, ``(K,)``, ...).
        compiler: the expression :class:`~.compiler.Compiler`.
        init_values: the params' ``= value`` initial values, evaluated once when the model is lowered.
        let_fns, factor_fns, tree, tree_fn: the compiled lets, factors and model tree (``env -> value``).
    """

    def __init__(self, model: Model, placeholders: bool = False):
        self.model = model
        self.placeholders = placeholders
        self.specs = {s.name: s for s in model.specs}
        consts = bind_consts(model, placeholders)
        self.fmt = consts.fmt
        self.static_env = consts.env
        self.const_env = dict(consts.env)
        self.unknown = consts.unknown
        sizes = Compiler(self.fmt, self.static_env, self.specs, {}, self.unknown, static_eval=True)
        self.shapes = resolve_shapes(sizes, model)
        self.domain_args = {s.name: domain_args(sizes, s) for s in model.specs}
        self.compiler = comp = Compiler(self.fmt, self.static_env, self.specs, self.domain_args, self.unknown)
        check_names(model, self.specs)
        self.let_fns = [(l.name, compile_let(comp, l)) for l in model.lets]
        self.factor_fns = {f.name: compile_factor(comp, f) for f in model.factors}
        self.tree = model.effective_tree
        self.tree_fn = compile_tree(comp, self.tree, self.factor_fns)
        self.init_values: dict = {}  # the params' ``= value`` initial values, filled by the check below
        _params.check_initial_values(self)
        self._plan: Optional[_fe.Plan] = None

    def spec_of(self, name) -> Optional[Spec]:
        return self.specs.get(name)

    def constraint(self, s: Spec):
        """The NumPyro constraint of ``s``'s domain with its bound arguments."""
        return _tr.constraint(self, s)

    # ---- environments
    def env(self, params, values, consts=None, *, need_random=True) -> Env:
        """The names an expression reads: consts, params, var/latent values and the lets."""
        env: Env = dict(self.const_env if consts is None else {**self.const_env, **consts})
        params = params or {}
        for s in self.model.params:
            if s.name not in params:
                raise EbmError("value", f"params has no value for '{s.name}'", s.span,
                               "start from model.init_params(key)")
            p = params[s.name]
            if s.domain.row.network:
                n_in, hidden, n_out, act = self.domain_args[s.name]
                env[s.name] = L.MLP(p, act, len(hidden) + 1)
            else:
                env[s.name] = self.cast(s, p)
        for s in self.model.random:
            if s.name in values:
                env[s.name] = self.cast(s, values[s.name])
            elif need_random:
                raise EbmError("value", f"no value given for {s.role} '{s.name}'", s.span)
        for name, fn in self.let_fns:
            env[name] = fn(env)
        return env

    def cast(self, s: Spec, v):
        """``v`` as the value of ``s``: its declared shape (or an error) and dtype."""
        return _params.cast(self, s, v)


    # ---- the public functions
    def energy(self, params, values, consts=None):
        return self.tree_fn(self.env(params, values, consts))

    def log_density(self, params, values, consts=None):
        return -self.energy(params, values, consts)

    def factor_energies(self, params, values, consts=None) -> dict:
        env = self.env(params, values, consts)
        return {name: fn(env) for name, fn in self.factor_fns.items()}

    def deterministics(self, params, values, consts=None) -> dict:
        env = self.env(params, values, consts)
        return {name: env[name] for name, _ in self.let_fns}

    @property
    def continuous(self) -> tuple[Spec, ...]:
        return tuple(s for s in self.model.random if s.domain.continuous)

    def score(self, params, values, consts=None):
        """∇ log p with respect to the continuous vars and latents, the others held at ``values``."""
        cont = [s.name for s in self.continuous]
        if not cont:
            raise EbmError("value", "the model has no continuous variables; score is undefined")
        fixed = {k: v for k, v in values.items() if k not in cont}

        def logp(x):
            return self.log_density(params, {**fixed, **x}, consts)
        return jax.grad(logp)({k: jnp.asarray(values[k], dtype=float_dtype()) for k in cont})

    # ---- unconstrained potential
    def transforms(self) -> dict:
        return _tr.transforms(self)

    def to_unconstrained(self, values) -> dict:
        return _tr.to_unconstrained(self, values)

    def to_constrained(self, unconstrained) -> dict:
        return _tr.to_constrained(self, unconstrained)

    def potential(self, params, unconstrained, consts=None, fixed=None):
        return _tr.potential(self, params, unconstrained, consts, fixed)

    # ---- NumPyro model
    def numpyro_model(self, params=None, consts=None):
        return _npm.numpyro_model(self, params, consts)

    # ---- parameters and example values
    def init_params(self, key=0) -> dict:
        return _params.init_params(self, key)

    def example_values(self) -> dict:
        return _params.example_values(self)

    def check_shapes(self):
        """Trace every let and factor abstractly (nothing the size of a declaration is allocated, and the
        consts that stand in for unbound ones are abstract too); shape errors point at the source."""
        params = jax.eval_shape(lambda: self.init_params(0))
        values = jax.eval_shape(self.example_values)
        stand_ins = {n: jax.ShapeDtypeStruct(self.const_env[n].shape, self.const_env[n].dtype) for n in self.unknown}

        def run(params, values, stand_ins):
            env = self.env(params, values, stand_ins)
            out = {}
            for f in self.model.factors:
                e = self.factor_fns[f.name](env)
                if shape_of(e) != ():
                    raise EbmShapeError(f"factor '{f.name}' has shape {self.fmt(shape_of(e))}; an energy must be "
                                        f"a scalar", f.span, "reduce it, e.g. sum(...)")
                out[f.name] = e
            out["__total__"] = self.tree_fn(env)
            return out
        try:
            return jax.eval_shape(run, params, values, stand_ins)
        except EbmError:
            raise
        except jax.errors.ConcretizationTypeError:
            raise EbmSemanticError("the model uses a value where it must be known before sampling "
                                   "(a size, a range or an axis)", None) from None

    # ---- free energy
    def free_energy_plan(self) -> _fe.Plan:
        """(method, explanation) for summing out latents."""
        if self._plan is None:
            self._plan = _fe.plan_free_energy(self)
        return self._plan

    def free_energy(self, params, visible, consts=None):
        return _fe.free_energy(self, self.free_energy_plan(), params, visible, consts)


def lower(model: Model, placeholders: bool = False) -> Lowered:
    """Lower a model (consts bound) to JAX functions, checking shapes at the source."""
    low = Lowered(model, placeholders=placeholders)
    low.check_shapes()
    return low
