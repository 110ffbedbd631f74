"""Lowering: a bound :class:`~ebmppl.model.spec.Model` -> pure JAX functions.

Expressions are compiled once into nested closures over ``jax.numpy``; under
``jax.jit`` they trace to the same XLA program as hand-written code. Every
closure re-raises a JAX shape or type failure as an
:class:`~ebmppl.errors.EbmShapeError` at the expression's source span, and
:meth:`Lowered.check_shapes` runs the whole model abstractly
(``jax.eval_shape``) so that shape errors appear when a model is loaded.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
from jax import lax
from jax.scipy.special import logsumexp
from numpyro.distributions.transforms import biject_to

from ..config import float_dtype
from ..dsl import ast as A
from ..errors import EbmError, EbmSemanticError, EbmShapeError
from . import library as L
from .library import names_in
from .affine import enumerate_states, is_affine_in, log_sum_affine
from .spec import Factor, Mixture, Model, Product, Ref, Spec, Temper

Env = dict
ENUMERATION_LIMIT = 2 ** 16


class _Fmt:
    """Renders shapes for messages, naming placeholder sizes of unbound consts."""

    def __init__(self, names: dict[int, str] | None = None):
        self.names = names or {}

    def __call__(self, shape) -> str:
        return "[" + ", ".join(self.names.get(int(d), str(d)) for d in shape) + "]"


def _shape(x):
    return tuple(np.shape(x)) if not hasattr(x, "shape") else tuple(x.shape)


class Compiler:
    """Compiles AST expressions into ``env -> array`` closures."""

    def __init__(self, lowered: "Lowered"):
        self.low = lowered
        self.fmt = lowered.fmt

    def static(self, e, what: str, kind=int):
        """Evaluate an expression that must be known at compile time (sizes, axes)."""
        try:
            v = self.compile(e)(dict(self.low.static_env))
            v = np.asarray(v)
        except EbmError:
            raise
        except Exception:
            raise EbmSemanticError(f"{what} must be known before sampling", e.span) from None
        if kind is int:
            if v.ndim != 0 or not float(v) == int(v):
                raise EbmSemanticError(f"{what} must be an integer, got {v}", e.span)
            return int(v)
        if kind is float:
            return float(v)
        return v

    def compile(self, e) -> Callable[[Env], Any]:
        meth = getattr(self, "c_" + type(e).__name__)
        fn = meth(e)
        return fn

    # ---- leaves
    def c_Num(self, e: A.Num):
        v = e.value
        return lambda env: v

    def c_Literal(self, e: A.Literal):
        v = jnp.asarray(e.value)
        return lambda env: v

    def c_Name(self, e: A.Name):
        name = e.id
        if name in L.CONSTANTS:
            v = L.CONSTANTS[name]
            return lambda env: v
        return lambda env: env[name]

    # ---- operators
    def c_BinOp(self, e: A.BinOp):
        fa, fb = self.compile(e.left), self.compile(e.right)
        op, fmt, span = e.op, self.fmt, e.span
        if op == "^":
            if isinstance(e.right, A.Num) and e.right.is_int:
                n = int(e.right.value)
                return lambda env: _ipow(fa(env), n)
            if isinstance(e.right, A.UnOp) and isinstance(e.right.operand, A.Num) and e.right.operand.is_int \
                    and e.right.op == "-":
                n = -int(e.right.operand.value)
                return lambda env: _ipow(fa(env), n)
            return _checked(lambda env: jnp.power(fa(env), fb(env)), span, "'^'", fa, fb, fmt)
        if op == "@":
            def matmul(env):
                a, b = fa(env), fb(env)
                sa, sb = _shape(a), _shape(b)
                if len(sa) == 0 or len(sb) == 0:
                    raise EbmShapeError(f"'@' needs vectors or matrices, got shapes {fmt(sa)} and {fmt(sb)}", span,
                                        "use '*' to multiply by a scalar")
                ka = sa[-1]
                kb = sb[0] if len(sb) == 1 else sb[-2]
                if ka != kb:
                    raise EbmShapeError(f"shape mismatch in '@': {fmt(sa)} @ {fmt(sb)} (inner sizes {fmt([ka])[1:-1]} "
                                        f"and {fmt([kb])[1:-1]} differ)", span,
                                        "transpose one side, or check the declared shapes")
                return jnp.matmul(a, b)
            return matmul
        impl = {"+": jnp.add, "-": jnp.subtract, "*": jnp.multiply, "/": jnp.true_divide, "%": jnp.mod}[op]

        def arith(env):
            a, b = fa(env), fb(env)
            sa, sb = _shape(a), _shape(b)
            if sa != sb:
                try:
                    np.broadcast_shapes(sa, sb)
                except ValueError:
                    raise EbmShapeError(f"shape mismatch in '{op}': {fmt(sa)} and {fmt(sb)} do not broadcast",
                                        span, "sizes must match or be 1 (NumPy broadcasting)") from None
            return impl(a, b)
        return arith

    def c_UnOp(self, e: A.UnOp):
        f = self.compile(e.operand)
        if e.op == "-":
            def neg(env):
                v = jnp.asarray(f(env))
                return jnp.negative(v.astype(jnp.int32) if v.dtype == jnp.bool_ else v)  # -True == -1, as in Python
            return neg
        return f

    def c_Compare(self, e: A.Compare):
        impl = {"<": jnp.less, "<=": jnp.less_equal, ">": jnp.greater, ">=": jnp.greater_equal,
                "==": jnp.equal, "!=": jnp.not_equal}[e.op]
        fa, fb = self.compile(e.left), self.compile(e.right)
        return _checked(lambda env: impl(fa(env), fb(env)), e.span, f"'{e.op}'", fa, fb, self.fmt)

    def c_BoolOp(self, e: A.BoolOp):
        impl = jnp.logical_and if e.op == "and" else jnp.logical_or
        fa, fb = self.compile(e.left), self.compile(e.right)
        return _checked(lambda env: impl(fa(env), fb(env)), e.span, f"'{e.op}'", fa, fb, self.fmt)

    def c_Not(self, e: A.Not):
        f = self.compile(e.operand)
        return lambda env: jnp.logical_not(f(env))

    def c_IfElse(self, e: A.IfElse):
        fc, fa, fb = self.compile(e.cond), self.compile(e.then), self.compile(e.orelse)
        fmt, span = self.fmt, e.span

        def ifelse(env):
            c, a, b = fc(env), fa(env), fb(env)
            try:
                np.broadcast_shapes(_shape(c), _shape(a), _shape(b))
            except ValueError:
                raise EbmShapeError(f"shape mismatch in 'if ... else': condition {fmt(_shape(c))}, "
                                    f"branches {fmt(_shape(a))} and {fmt(_shape(b))}", span) from None
            return jnp.where(c, a, b)
        return ifelse

    # ---- calls
    def c_Call(self, e: A.Call):
        spec = self.low.spec_of(e.func)
        if spec is not None and spec.domain.kind == "mlp":
            fx = self.compile(e.args[0])
            n_in = self.low.domain_args[spec.name][0]
            fmt, span, name = self.fmt, e.span, e.func

            def call_mlp(env):
                x = fx(env)
                sx = _shape(x)
                if len(sx) == 0 or sx[-1] != n_in:
                    raise EbmShapeError(f"the mlp '{name}' takes inputs of size {n_in}, got shape {fmt(sx)}", span,
                                        f"pass a value whose last axis has size {n_in}, or change mlp({n_in}, ...)")
                return env[name](x)
            return call_mlp
        lp = L.lp_function_name(e.func)
        if lp is not None:
            info = lp[0]
            fval = self.compile(e.args[0])
            fargs = [self.compile(a) for a in e.args[1:]]
            fkw = {k.name: self.compile(k.value) for k in e.kwargs}
            # an lpdf may be called on any expression: keep NumPyro's support check
            # except for real support, where it only maps NaN to -inf.
            build = self._dist_builder(info, fargs, fkw, e, validate=info.support != "real")
            fmt, span = self.fmt, e.span

            def lpdf(env):
                d = build(env)
                y = fval(env)
                _check_value_shape(d, y, info, fmt, span, e.func)
                return d.log_prob(y)
            return lpdf
        fi = L.FUNCTIONS[e.func]
        parts = []
        for i, a in enumerate(e.args):
            if i in fi.static:
                v = self.static(a, f"argument {i + 1} of {e.func}", kind=None)
                v = v.item() if np.ndim(v) == 0 else tuple(np.asarray(v).tolist())
                parts.append((lambda v: lambda env: v)(v))
            else:
                parts.append(self.compile(a))
        kws = {}
        for k in e.kwargs:
            if k.name in fi.static:
                v = self.static(k.value, f"option {k.name} of {e.func}", kind=None)
                v = v.item() if np.ndim(v) == 0 else tuple(np.asarray(v).tolist())
                kws[k.name] = (lambda v: lambda env: v)(v)
            else:
                kws[k.name] = self.compile(k.value)
        impl, fname, span, fmt = fi.impl, e.func, e.span, self.fmt

        def call(env):
            args = [p(env) for p in parts]
            kw = {k: f(env) for k, f in kws.items()}
            try:
                return impl(*args, **kw)
            except EbmError:
                raise
            except (TypeError, ValueError, IndexError) as ex:
                shapes = ", ".join(fmt(_shape(a)) for a in args)
                raise EbmShapeError(f"{fname} cannot take arguments of shapes {shapes}", span,
                                    _short(ex)) from None
        return call

    def _dist_builder(self, info: L.DistInfo, fargs, fkw, node, validate=True):
        """env -> numpyro distribution. ``validate=False`` skips NumPyro's support check
        (used where the checker has proved the value lies in the support)."""
        names = info.params
        span, fmt = node.span, self.fmt
        opts = {} if validate else {"validate_args": False}

        def build(env):
            vals = dict(zip(names, (f(env) for f in fargs)))
            vals.update({k: f(env) for k, f in fkw.items()})
            args = [jnp.asarray(vals[n], dtype=float_dtype()) if n != "total_count" else vals[n] for n in names]
            try:
                return info.build(*args, **opts)
            except (TypeError, ValueError) as ex:
                shapes = ", ".join(f"{n} {fmt(_shape(a))}" for n, a in zip(names, args))
                raise EbmShapeError(f"{info.name} cannot take arguments of shapes {shapes}", span, _short(ex)) from None
        return build

    def dist_call(self, d: A.DistCall, validate=True):
        info = L.DISTRIBUTIONS[d.name]
        return info, self._dist_builder(info, [self.compile(a) for a in d.args],
                                        {k.name: self.compile(k.value) for k in d.kwargs}, d, validate)

    # ---- comprehensions and arrays
    def _range(self, it: A.Call):
        args = [self.static(a, "a range bound") for a in it.args]
        r = range(*args)
        if len(r) == 0:
            raise EbmSemanticError(f"range({', '.join(map(str, args))}) is empty", it.span,
                                   "a comprehension needs at least one step; check the bounds")
        return np.arange(r.start, r.stop, r.step, dtype=np.int32)

    def c_Comprehension(self, e: A.Comprehension):
        idx = self._range(e.iter)
        body = self.compile(e.body)
        var = e.var

        def comp(env):
            return jax.vmap(lambda i: jnp.asarray(body({**env, var: i})))(jnp.asarray(idx))
        return comp

    def c_GenCall(self, e: A.GenCall):
        comp = self.c_Comprehension(e.comp)
        impl = L.FUNCTIONS[e.func].impl
        return lambda env: impl(comp(env), axis=0)

    def c_Array(self, e: A.Array):
        items = [self.compile(i) for i in e.items]
        fmt, span = self.fmt, e.span

        def array(env):
            vals = [jnp.asarray(f(env)) for f in items]
            shapes = {_shape(v) for v in vals}
            if len(shapes) > 1:
                raise EbmShapeError("the items of a list have different shapes: "
                                    + ", ".join(fmt(_shape(v)) for v in vals), span,
                                    "every item of [a, b, ...] must have the same shape")
            return jnp.stack(vals)
        return array

    # ---- indexing
    def c_Index(self, e: A.Index):
        fv = self.compile(e.value)
        subs = []  # callables env -> index component
        for s in e.subs:
            if isinstance(s, A.NewAxis):
                subs.append(lambda env: None)
            elif isinstance(s, A.EllipsisIndex):
                subs.append(lambda env: Ellipsis)
            elif isinstance(s, A.Slice):
                parts = [None if p is None else self.static(p, "a slice bound") for p in (s.lo, s.hi, s.step)]
                sl = slice(*parts)
                subs.append((lambda sl: lambda env: sl)(sl))
            else:
                subs.append(self._index_part(s))
        fmt, span = self.fmt, e.span

        def index(env):
            v = fv(env)
            parts = tuple(f(env) for f in subs)
            shape = _shape(v)
            n_axes = sum(1 for p in parts if p is not None and p is not Ellipsis)
            if n_axes > len(shape):
                raise EbmShapeError(f"too many indices: {n_axes} for a value of shape {fmt(shape)}", span,
                                    "index one axis per size; a scalar takes no index")
            axis = 0
            for p in parts:
                if p is Ellipsis:
                    axis = len(shape) - (n_axes - axis)
                    continue
                if p is None:
                    continue
                if isinstance(p, (int, np.integer)) and not -shape[axis] <= int(p) < shape[axis]:
                    raise EbmShapeError(f"index {int(p)} is out of range for axis {axis} of size "
                                        f"{fmt([shape[axis]])[1:-1]}", span, "indices are 0-based")
                if hasattr(p, "dtype") and not jnp.issubdtype(p.dtype, jnp.integer) and p.dtype != bool:
                    raise EbmShapeError("an index must be an integer", span,
                                        "use int(...) or an int const; indices are 0-based")
                axis += 1
            return jnp.asarray(v)[parts]
        return index

    def _index_part(self, s):
        if isinstance(s, A.Num):
            if not s.is_int:
                raise EbmShapeError(f"an index must be an integer, not {s.value}", s.span)
            v = int(s.value)
            return lambda env: v
        if isinstance(s, A.UnOp) and s.op == "-" and isinstance(s.operand, A.Num) and s.operand.is_int:
            v = -int(s.operand.value)
            return lambda env: v
        return self.compile(s)


def _ipow(x, n):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.integer) and n < 0:
        x = x.astype(float_dtype())
    return lax.integer_pow(x, n) if n != 1 else x


def _checked(fn, span, what, fa, fb, fmt):
    def g(env):
        try:
            return fn(env)
        except EbmError:
            raise
        except (TypeError, ValueError) as ex:
            sa, sb = _shape(fa(env)), _shape(fb(env))
            raise EbmShapeError(f"shape mismatch in {what}: {fmt(sa)} and {fmt(sb)} do not broadcast", span,
                                _short(ex)) from None
    return g


def _short(ex) -> Optional[str]:
    msg = str(ex).strip().splitlines()
    return f"JAX says: {msg[0][:200]}" if msg else None


def _check_value_shape(d, y, info: L.DistInfo, fmt, span, what):
    ys = _shape(y)
    ev = tuple(d.event_shape)
    bs = tuple(d.batch_shape)
    if ev and ys[len(ys) - len(ev):] != ev:
        raise EbmShapeError(f"{info.name} is over vectors of shape {fmt(ev)}, but the value has shape {fmt(ys)}", span)
    yb = ys[: len(ys) - len(ev)]
    try:
        full = np.broadcast_shapes(yb, bs)
    except ValueError:
        raise EbmShapeError(f"shape mismatch in {what}: the value has shape {fmt(ys)}, the distribution "
                            f"{fmt(bs + ev)}", span, "sizes must match or be 1 (NumPy broadcasting)") from None
    return full


# ====================================================================== Lowered
class Lowered:
    """The pure JAX functions of one bound model.

    Attributes:
        shapes: resolved shape of every spec.
        free_energy_method: 'none', 'analytic', 'enumerate' or an error message.
    """

    def __init__(self, model: Model, placeholders: bool = False):
        self.model = model
        self.placeholders = placeholders
        self.fmt = _Fmt()
        self.specs = {s.name: s for s in model.specs}
        self._bind_static()
        comp = Compiler(self)
        self.compiler = comp
        self.shapes = {s.name: tuple(d if isinstance(d, int) else comp.static(d, f"a size of '{s.name}'")
                                     for d in s.shape) for s in model.specs}
        for s in model.specs:
            for d, n in zip(self.shapes[s.name], s.shape):
                if d < 0:
                    raise EbmSemanticError(f"a size of '{s.name}' is negative ({d})", s.span)
        self.domain_args = {s.name: self._domain_args(s) for s in model.specs}
        self._check_python_names()
        self.let_fns = [(l.name, self._compile_let(l)) for l in model.lets]
        self.factor_fns = {f.name: self._compile_factor(f) for f in model.factors}
        self.tree = model.effective_tree
        self.tree_fn = self._compile_tree(self.tree)

    # ---- consts and static values
    def _bind_static(self):
        m = self.model
        env: dict = {}
        names: dict[int, str] = {}
        primes = iter([1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069, 1087, 1091])
        for s in m.consts:
            if s.name in m.const_values:
                env[s.name] = np.asarray(m.const_values[s.name])
            elif s.init is not None:
                env[s.name] = None  # default: evaluated below, in order
            elif self.placeholders:
                if s.domain.kind == "int" and not s.shape:
                    p = next(primes, 997)
                    names[p] = s.name
                    env[s.name] = np.asarray(p)
                else:
                    env[s.name] = "placeholder"
            else:
                missing = [c.name for c in m.consts if c.name not in m.const_values and c.init is None]
                raise EbmError("data", f"const{'s' if len(missing) > 1 else ''} "
                               f"{', '.join(repr(n) for n in missing)} ha{'ve' if len(missing) > 1 else 's'} no value",
                               s.span, "bind them: model.bind({'name': value, ...}) or a JSON file "
                                       "(`--data consts.json` on the command line)")
        self.fmt = _Fmt(names)
        self.static_env = env
        comp = Compiler(self)
        for s in m.consts:
            if env[s.name] is None:
                env[s.name] = np.asarray(comp.compile(s.init)(dict(env)))
                shape = tuple(d if isinstance(d, int) else comp.static(d, "a size") for d in s.shape)
                what = "value" if s.conditioned else "default"
                if env[s.name].shape != shape:
                    try:
                        env[s.name] = np.broadcast_to(env[s.name], shape).copy()
                    except ValueError:
                        raise EbmShapeError(f"the {what} of '{s.name}' has shape {list(env[s.name].shape)}, "
                                            f"declared {s.type_str()} = {self.fmt(shape)}", s.init.span,
                                            f"give a value of shape {self.fmt(shape)} (or a scalar)") from None
                if s.domain.kind in ("int", "categorical", "binary"):
                    if not np.all(env[s.name] == np.round(env[s.name])):
                        raise EbmSemanticError(f"the {what} of '{s.name}' must be an integer", s.init.span)
                    env[s.name] = env[s.name].astype(np.int32)
        # placeholder arrays once sizes are known
        for s in m.consts:
            if isinstance(env[s.name], str):
                shape = tuple(d if isinstance(d, int) else comp.static(d, "a size") for d in s.shape)
                dt = np.int32 if s.domain.kind in ("int", "categorical", "binary") else np.float32
                val = np.zeros(shape, dt) if s.domain.kind not in ("positive", "unit") else np.full(shape, 0.5, dt)
                env[s.name] = val
        self.const_env = {k: v for k, v in env.items()}

    def _domain_args(self, s: Spec):
        if s.domain.kind == "mlp":
            n_in, hidden, n_out, act = s.domain.args
            st = lambda d: d if isinstance(d, int) else self.compiler.static(d, "an mlp size")  # noqa: E731
            return (st(n_in), tuple(st(h) for h in hidden), st(n_out), act)
        if s.domain.kind == "interval":
            lo, hi = (a if isinstance(a, (int, float)) else self.compiler.static(a, "an interval bound", float)
                      for a in s.domain.args)
            if not lo < hi:
                raise EbmSemanticError(f"empty interval({lo}, {hi}) for '{s.name}'", s.span)
            return (lo, hi)
        if s.domain.kind == "categorical":
            k = s.domain.args[0]
            k = k if isinstance(k, int) else self.compiler.static(k, "the number of categories")
            if k < 1:
                raise EbmSemanticError(f"categorical({k}) for '{s.name}' needs at least one category", s.span)
            return (k,)
        return ()

    def _check_python_names(self):
        known = set(self.specs)
        for l in self.model.lets:
            if l.fn is not None:
                missing = [a for a in l.args if a not in known]
                if missing:
                    raise EbmSemanticError(f"let '{l.name}' reads '{missing[0]}', which is never declared", l.span,
                                           f"declare it, e.g. {missing[0]}=ebmppl.real()")
            known.add(l.name)
        for f in self.model.factors:
            names = list(f.args)
            if f.target is not None:
                names.append(f.target_name)
            if f.dist is not None:
                names.extend(sorted(names_in(f.dist)))
            if f.expr is not None and f.fn is None and f.span is None:
                names.extend(sorted(names_in(f.expr)))
            missing = [a for a in names if a not in known and a not in L.CONSTANTS]
            if missing:
                raise EbmSemanticError(f"factor '{f.name}' reads '{missing[0]}', which is never declared", f.span,
                                       f"declare it in a decorator, e.g. {missing[0]}=ebmppl.real(), or combine "
                                       f"with a model that declares it")

    def spec_of(self, name) -> Optional[Spec]:
        return self.specs.get(name)

    def constraint(self, s: Spec):
        return L.domain_constraint(s.domain.kind, self.domain_args[s.name])

    # ---- compile lets, factors, tree
    def _compile_let(self, l):
        if l.fn is not None:
            fn, args = l.fn, l.args
            return lambda env: fn(*[env[a] for a in args])
        return self.compiler.compile(l.expr)

    def _compile_factor(self, f: Factor):
        span = f.span
        if f.fn is not None and f.kind == "density":
            fn, args, name = f.fn, f.args, f.name
            ftarget = self.compiler.compile(f.target)

            def py_density(env):
                d = fn(*[env[a] for a in args])
                if not isinstance(d, dist.Distribution):
                    raise EbmSemanticError(f"density factor '{name}' must return a numpyro distribution, "
                                           f"got {type(d).__name__}", span)
                return -jnp.sum(d.log_prob(ftarget(env)))
            return py_density
        if f.fn is not None:
            fn, args, name = f.fn, f.args, f.name

            def py_energy(env):
                try:
                    return fn(*[env[a] for a in args])
                except EbmError:
                    raise
                except (TypeError, ValueError, IndexError) as ex:
                    raise EbmShapeError(f"factor '{name}' failed: {_short(ex)}", span) from None
            return py_energy
        comp = self.compiler
        if f.kind == "energy":
            return comp.compile(f.expr)
        info = L.DISTRIBUTIONS[f.dist.name]
        # The checker proved the target's domain lies in the support (data is checked at bind).
        info, build = comp.dist_call(f.dist, validate=not info.support_guaranteed)
        ftarget = comp.compile(f.target)
        fmt, name = self.fmt, f.name

        def density(env):
            d = build(env)
            y = ftarget(env)
            full = _check_value_shape(d, y, info, fmt, span, f"'{name}'")
            ys = _shape(y)
            yb = ys[: len(ys) - len(d.event_shape)]
            if tuple(full) != tuple(yb):
                raise EbmShapeError(f"{info.name}(...) has shape {fmt(tuple(d.batch_shape))}, larger than the "
                                    f"shape {fmt(ys)} of its value", span,
                                    "index the arguments, or declare the variable with the larger shape")
            return -jnp.sum(d.log_prob(y))
        return density

    def _compile_tree(self, node):
        if isinstance(node, Ref):
            return self.factor_fns[node.name]
        if isinstance(node, Product):
            fns = [self._compile_tree(c) for c in node.children]
            return lambda env: sum(f(env) for f in fns[1:]) + fns[0](env) if len(fns) > 1 else fns[0](env)
        if isinstance(node, Temper):
            f = self._compile_tree(node.child)
            ft = self._value(node.temperature)
            return lambda env: f(env) / ft(env)
        if isinstance(node, Mixture):
            fns = [self._compile_tree(c) for c in node.children]
            fws = [self._value(w) for w in node.weights]
            logz = node.logz or (0.0,) * len(fns)
            flz = [self._value(z) for z in logz]

            def mixture(env):
                logw = jnp.log(jnp.stack([jnp.asarray(fw(env), dtype=float_dtype()) for fw in fws]))
                logw = logw - logsumexp(logw)
                terms = jnp.stack([lw - (f(env) + lz(env)) for lw, f, lz in zip(logw, fns, flz)])
                return -logsumexp(terms)
            return mixture
        raise TypeError(node)

    def _value(self, v):
        if isinstance(v, A.Expr):
            return self.compiler.compile(v)
        return lambda env: v

    # ---- environments
    def env(self, params, values, consts=None, *, need_random=True) -> Env:
        env: Env = dict(self.const_env if consts is None else {**self.const_env, **consts})
        params = params or {}
        for s in self.model.params:
            if s.name not in params:
                raise EbmError("value", f"params has no value for '{s.name}'", s.span,
                               "start from model.init_params(key)")
            p = params[s.name]
            if s.domain.kind == "mlp":
                n_in, hidden, n_out, act = self.domain_args[s.name]
                env[s.name] = L.MLP(p, act, len(hidden) + 1)
            else:
                env[s.name] = self._cast(s, p)
        for s in self.model.random:
            if s.name in values:
                env[s.name] = self._cast(s, values[s.name])
            elif need_random:
                raise EbmError("value", f"no value given for {s.role} '{s.name}'", s.span)
        for name, fn in self.let_fns:
            env[name] = fn(env)
        return env

    def _cast(self, s: Spec, v):
        v = jnp.asarray(v)
        want = self.shapes[s.name]
        if tuple(v.shape) != want:
            raise EbmShapeError(f"the value of {s.role} '{s.name}' has shape {self.fmt(tuple(v.shape))}, "
                                f"declared {s.type_str()} = {self.fmt(want)}", s.span)
        if s.domain.kind in ("categorical", "int"):
            return v.astype(jnp.int32) if not jnp.issubdtype(v.dtype, jnp.integer) else v
        return v.astype(float_dtype()) if v.dtype != float_dtype() else v

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
        cont = [s.name for s in self.continuous]
        if not cont:
            raise EbmError("value", "the model has no continuous variables; score is undefined")
        fixed = {k: v for k, v in values.items() if k not in cont}

        def logp(x):
            return self.log_density(params, {**fixed, **x}, consts)
        return jax.grad(logp)({k: jnp.asarray(values[k], dtype=float_dtype()) for k in cont})

    # ---- unconstrained potential
    def transforms(self) -> dict:
        return {s.name: biject_to(self.constraint(s)) for s in self.continuous}

    def to_unconstrained(self, values) -> dict:
        return {k: t.inv(jnp.asarray(values[k], dtype=float_dtype())) for k, t in self.transforms().items()}

    def to_constrained(self, unconstrained) -> dict:
        return {k: t(unconstrained[k]) for k, t in self.transforms().items()}

    def potential(self, params, unconstrained, consts=None, fixed=None):
        total_ladj = 0.0
        values = dict(fixed or {})
        for name, t in self.transforms().items():
            u = unconstrained[name]
            x = t(u)
            ladj = t.log_abs_det_jacobian(u, x)
            total_ladj = total_ladj + jnp.sum(ladj)
            values[name] = x
        return self.energy(params, values, consts) - total_ladj

    # ---- NumPyro model
    def numpyro_model(self, params=None, consts=None):
        params = self.init_params(0) if params is None and self.model.params else params
        top = self.tree.children if isinstance(self.tree, Product) else (self.tree,)
        names = []
        for i, node in enumerate(top):
            names.append(node.name if isinstance(node, Ref) else f"{type(node).__name__.lower()}_{i}")
        fns = [self._compile_tree(node) for node in top]
        lowered = self

        @jax.jit
        def evaluate(values):
            # the lets and factor terms in one compiled call: NumPyro runs the model eagerly to set up each
            # MCMC run (and traces it inside its jitted functions, where this call inlines)
            env = lowered.env(params, values, consts)
            return {name: env[name] for name, _ in lowered.let_fns}, [-fn(env) for fn in fns]

        def model():
            values = {}
            for s in lowered.model.random:
                values[s.name] = numpyro.sample(s.name, lowered._base(s))
            lets, terms = evaluate(values)
            for name, _ in lowered.let_fns:
                numpyro.deterministic(name, lets[name])
            for name, term in zip(names, terms):
                numpyro.factor(name, term)
        return model

    def _base(self, s: Spec):
        shape = self.shapes[s.name]
        c = self.constraint(s)
        if s.domain.continuous:
            event = c.event_dim
            return dist.ImproperUniform(c, shape[: len(shape) - event], shape[len(shape) - event:])
        if s.domain.kind == "binary":
            values = jnp.array([0.0, 1.0])
        elif s.domain.kind == "spin":
            values = jnp.array([-1.0, 1.0])
        elif s.domain.kind == "categorical":
            values = jnp.arange(self.domain_args[s.name][0])
        else:
            raise EbmError("value", f"{s.role} '{s.name}' is an unbounded int; NumPyro cannot sample it", s.span,
                           "give it a finite domain (binary, categorical(K))")
        return FlatDiscrete(values, c).expand(shape).to_event(len(shape))

    # ---- parameters
    def init_params(self, key=0) -> dict:
        key = jax.random.PRNGKey(key) if isinstance(key, int) else key
        out = {}
        specs = self.model.params
        keys = jax.random.split(key, max(1, len(specs)))
        comp = self.compiler
        for k, s in zip(keys, specs):
            shape = self.shapes[s.name]
            if s.domain.kind == "mlp":
                n_in, hidden, n_out, act = self.domain_args[s.name]
                out[s.name] = L.mlp_init(k, n_in, hidden, n_out, dtype=float_dtype())
                continue
            if s.init is not None:
                v = jnp.asarray(comp.compile(s.init)(dict(self.static_env)), dtype=float_dtype())
                try:
                    v = jnp.broadcast_to(v, shape)
                except ValueError:
                    raise EbmShapeError(f"the initial value of '{s.name}' has shape {self.fmt(v.shape)}, "
                                        f"declared {s.type_str()} = {self.fmt(shape)}", s.init.span) from None
            elif s.init_dist is not None:
                info, build = comp.dist_call(s.init_dist)
                d = build(dict(self.static_env))
                dshape = tuple(d.batch_shape) + tuple(d.event_shape)
                if dshape and tuple(shape[len(shape) - len(dshape):]) != dshape:
                    raise EbmShapeError(f"the initializer of '{s.name}' has shape {self.fmt(dshape)}, declared "
                                        f"{self.fmt(shape)}", s.init_dist.span)
                v = jnp.asarray(d.sample(k, shape[: len(shape) - len(dshape)]), dtype=float_dtype())
            else:
                v = self._default_param(s, shape)
            c = self.constraint(s)
            if not isinstance(v, jax.core.Tracer) and not bool(np.all(np.asarray(c(v)))):
                span = s.init.span if s.init is not None else (s.init_dist.span if s.init_dist else s.span)
                raise EbmSemanticError(f"the initial value of '{s.name}' is outside its domain {s.domain}", span,
                                       "choose an initial value inside the domain")
            out[s.name] = v
        return out

    def _default_param(self, s: Spec, shape):
        kind = s.domain.kind
        fd = float_dtype()
        if kind == "positive":
            return jnp.ones(shape, fd)
        if kind == "unit":
            return jnp.full(shape, 0.5, fd)
        if kind == "interval":
            lo, hi = self.domain_args[s.name]
            return jnp.full(shape, (lo + hi) / 2, fd)
        if kind == "simplex":
            return jnp.full(shape, 1.0 / shape[-1], fd)
        if kind == "ordered":
            return jnp.broadcast_to(jnp.arange(shape[-1], dtype=fd), shape)
        if kind == "spin":
            return jnp.ones(shape, fd)
        return jnp.zeros(shape, fd)

    # ---- abstract shape check
    def example_values(self) -> dict:
        out = {}
        for s in self.model.random:
            shape = self.shapes[s.name]
            kind = s.domain.kind
            if kind in ("categorical", "int"):
                out[s.name] = jnp.zeros(shape, jnp.int32)
            elif kind == "spin":
                out[s.name] = jnp.ones(shape, float_dtype())
            else:
                out[s.name] = self._default_param(s, shape)
        return out

    def check_shapes(self):
        """Trace every let and factor abstractly; shape errors point at the source."""
        params = self.init_params(0)
        values = self.example_values()

        def run(params, values):
            env = self.env(params, values)
            out = {}
            for f in self.model.factors:
                e = self.factor_fns[f.name](env)
                if _shape(e) != ():
                    raise EbmShapeError(f"factor '{f.name}' has shape {self.fmt(_shape(e))}; an energy must be a "
                                        f"scalar", f.span, "reduce it, e.g. sum(...)")
                out[f.name] = e
            out["__total__"] = self.tree_fn(env)
            return out
        try:
            return jax.eval_shape(run, params, values)
        except EbmError:
            raise
        except jax.errors.ConcretizationTypeError:
            raise EbmSemanticError("the model uses a value where it must be known before sampling "
                                   "(a size, a range or an axis)", None) from None

    # ---- free energy
    def free_energy_plan(self) -> tuple[str, str]:
        """(method, explanation) for summing out latents."""
        if hasattr(self, "_fe_plan"):
            return self._fe_plan
        self._fe_plan = _plan_free_energy(self)
        return self._fe_plan

    def free_energy(self, params, visible, consts=None):
        method, why = self.free_energy_plan()
        if method == "none":
            return self.energy(params, visible, consts)
        if method == "error":
            span = self.model.latents[0].span if self.model.latents else None
            raise EbmError("free-energy", why, span)
        latents = self.model.latents
        if method == "analytic":
            return -log_sum_affine(lambda h: self.energy(params, {**visible, **h}, consts), latents, self.shapes)
        configs, _ = enumerate_states(latents, self.shapes, self.domain_args)

        def neg_e(cfg):
            return -self.energy(params, {**visible, **cfg}, consts)
        n = next(iter(configs.values())).shape[0]
        if n > 4096:
            vals = lax.map(neg_e, configs, batch_size=4096)
        else:
            vals = jax.vmap(neg_e)(configs)
        return -logsumexp(vals)

class FlatDiscrete(dist.Distribution):
    """A flat (log_prob 0) distribution over a finite set of values; NumPyro can enumerate it."""

    has_enumerate_support = True
    pytree_data_fields = ("_values",)
    pytree_aux_fields = ("_support",)

    def __init__(self, values, support, validate_args=None):
        self._values = jnp.asarray(values)
        self._support = support
        super().__init__(batch_shape=(), event_shape=(), validate_args=validate_args)

    @property
    def support(self):
        return self._support

    def sample(self, key, sample_shape=()):
        i = jax.random.randint(key, sample_shape + self.batch_shape, 0, self._values.shape[0])
        return self._values[i]

    def log_prob(self, value):
        return jnp.zeros(jnp.shape(value))

    def enumerate_support(self, expand=True):
        v = self._values.reshape((-1,) + (1,) * len(self.batch_shape))
        return jnp.broadcast_to(v, v.shape[:1] + self.batch_shape) if expand else v


def _plan_free_energy(low: Lowered) -> tuple[str, str]:
    latents = low.model.latents
    if not latents:
        return "none", "no latents: the free energy is the energy"
    cont = [s for s in latents if s.domain.continuous]
    if cont:
        return "error", (f"latent '{cont[0].name}' is continuous and cannot be summed out; "
                         f"sample it instead (ebmppl.sample keeps latents in the chains)")
    unbounded = [s for s in latents if s.domain.kind == "int"]
    if unbounded:
        return "error", (f"latent '{unbounded[0].name}' is an unbounded int and cannot be summed out; "
                         f"give it a finite domain (binary, spin, categorical(K))")
    if all(s.domain.kind in ("binary", "spin") for s in latents):
        params = low.init_params(0)
        if is_affine_in(lambda v: low.energy(params, v), low.example_values(), [s.name for s in latents]):
            what = ", ".join(f"{s.domain.kind} '{s.name}'" for s in latents)
            return "analytic", f"summed out analytically: the energy is affine in {what}"
    states = 1
    for s in latents:
        k = low.domain_args[s.name][0] if s.domain.kind == "categorical" else 2
        states *= k ** int(np.prod(low.shapes[s.name], dtype=np.int64))
    if states <= ENUMERATION_LIMIT:
        return "enumerate", f"summed out by enumerating {states} joint latent states"
    n = sum(int(np.prod(low.shapes[s.name])) for s in latents)
    return "error", (f"the latents have {_fmt_states(states)} joint states ({n} values) and the energy is not "
                     f"affine in binary/spin latents, so they cannot be summed out exactly; "
                     f"sample them instead (ebmppl.sample)")


def _fmt_states(n: int) -> str:
    b = math.log2(n)
    return f"2^{b:.0f}" if abs(b - round(b)) < 1e-9 else f"{n:.3g}"


def lower(model: Model, placeholders: bool = False) -> Lowered:
    """Lower a model (consts bound) to JAX functions, checking shapes at the source."""
    low = Lowered(model, placeholders=placeholders)
    low.check_shapes()
    return low
