"""What the samplers see: a model's log density over a flat unconstrained
vector ``z`` (its continuous variables) and a dict ``d`` of discrete values.

Kernels never see the model. :class:`Target` maps between the model's named,
constrained values and ``(z, d)``, finds valid starting points, and turns
draws back into named values with the ``let`` quantities.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from ..settings import float_dtype
from ..errors import EbmError
from .values import check_consts, check_params, check_values


class Target:
    """The log density of a bound model at fixed params, split into continuous and discrete parts.

    Args:
        model: a bound :class:`~ebmppl.model.spec.Model`.
        params: parameter values (default: ``model.init_params(0)``).
        consts: const overrides (default: the model's bound consts).
    """

    def __init__(self, model, params=None, consts=None):
        self.model = model
        self.low = low = model.lowered
        check_params(model, params)
        self.params = params if params is not None else (model.init_params(0) if model.params else {})
        self.consts = check_consts(model, consts)
        self.cont = low.continuous
        self.disc = tuple(s for s in model.random if s.domain.discrete)
        for s in self.disc:
            if not s.domain.row.finite:
                raise EbmError("sample", f"{s.role} '{s.name}' is an unbounded int, which no sampler here can move",
                               s.span, "give it a finite domain: binary, spin or categorical(K)")
        example = low.example_values()
        u0 = low.to_unconstrained({s.name: example[s.name] for s in self.cont})
        self.z_example, self._unravel = ravel_pytree(u0)
        self.dim = int(self.z_example.size)
        self.d_example = {s.name: example[s.name] for s in self.disc}

    # ---- densities
    def unravel(self, z) -> dict:
        return self._unravel(z)

    def logdensity(self, z, d):
        """log p(x(z), d) + log|det dx/dz| on the unconstrained space."""
        return -self.low.potential(self.params, self._unravel(z), self.consts, fixed=d)

    def logdensity_and_grad(self, z, d):
        return jax.value_and_grad(self.logdensity)(z, d)

    def constrain(self, z) -> dict:
        return self.low.to_constrained(self._unravel(z))

    def energy_of(self, z, d):
        """E(x(z), d): the energy (no Jacobian), for discrete updates."""
        return self.low.energy(self.params, {**self.constrain(z), **d}, self.consts)

    def values(self, z, d) -> dict:
        """Named constrained values plus the lets, for one draw."""
        vals = {**self.constrain(z), **d}
        lets = self.low.deterministics(self.params, vals, self.consts) if self.model.lets else {}
        return {**vals, **lets}

    # ---- starting points
    def random_discrete(self, key) -> dict:
        """One uniform draw of every discrete variable from its domain's states."""
        out = {}
        keys = jax.random.split(key, max(1, len(self.disc)))
        for k, s in zip(keys, self.disc):
            shape = self.low.shapes[s.name]
            states = s.domain.row.states(self.low.domain_args[s.name])
            if s.domain.row.two_state:  # a fair coin between the two states (kept: tests pin these draws)
                off, on = float(states[0]), float(states[-1])
                out[s.name] = off + (on - off) * jax.random.bernoulli(k, 0.5, shape).astype(float_dtype())
            else:
                out[s.name] = jnp.asarray(states)[jax.random.randint(k, shape, 0, len(states))]
        return out

    def from_values(self, values: dict):
        """(z, d) from named constrained values."""
        self._require_all(values)
        return self._from_values(values)

    def _require_all(self, values: dict) -> None:
        missing = [s.name for s in self.cont + self.disc if s.name not in values]
        if missing:
            raise EbmError("sample", f"init has no value for {', '.join(repr(m) for m in missing)}",
                           hint="give every var and latent, or leave init=None for random starts")

    def _from_values(self, values: dict):
        u = self.low.to_unconstrained({s.name: values[s.name] for s in self.cont})
        z, _ = ravel_pytree(u)
        d = {s.name: self.low.cast(s, values[s.name]) for s in self.disc}
        return z, d

    def initial_points(self, key, num_chains: int, init: Optional[dict] = None, radius: float = 2.0,
                       tries: int = 100):
        """One valid (z, d) per chain, stacked on axis 0.

        Random starts are uniform in [-radius, radius] on the unconstrained space
        (NumPyro's ``init_to_uniform``); a start whose log density or gradient is not
        finite is replaced by the next candidate, up to ``tries`` per chain.
        """
        if init is not None:
            per_chain = self._check_init(init, num_chains)
            self._require_all(init)
            vals = {n: jnp.asarray(init[n]) for n in (s.name for s in self.cont + self.disc)}
            if not per_chain:  # one start for every chain
                vals = {k: jnp.broadcast_to(v, (num_chains,) + v.shape) for k, v in vals.items()}
            convert = self.__dict__.get("_jit_from")  # all chains at once (a loop over 1024 chains took 0.8 s)
            if convert is None:
                convert = self._jit_from = jax.jit(jax.vmap(self._from_values))
            z, d = convert(vals)
            d = d if self.disc else {}
            ok = self._valid(z, d)
            if not bool(jnp.all(ok)):
                c = int(np.argmin(np.asarray(ok)))
                self._explain(z[c], jax.tree_util.tree_map(lambda a: a[c], d), "the given init")
            return z, d
        kz, kd = jax.random.split(key)
        zc = jax.random.uniform(kz, (num_chains, tries, self.dim), float_dtype(), -radius, radius)
        dkeys = jax.random.split(kd, num_chains * tries).reshape(num_chains, tries, -1)
        dc = jax.vmap(jax.vmap(self.random_discrete))(dkeys) if self.disc else {}
        first = jax.tree_util.tree_map(lambda a: a[:, :1], (zc, dc))
        # the first candidate usually works: check it, the rest only if needed (jitted, kept on the target:
        # sample reuses recent targets, and eager dispatch of a gradient costs more than running it)
        check = self.__dict__.get("_jit_check")
        if check is None:
            check = self._jit_check = jax.jit(jax.vmap(jax.vmap(self._finite)))
        ok = np.asarray(check(*first))
        if not ok.all():
            ok = np.asarray(check(zc, dc))
        if not ok.any(axis=1).all():
            c = int(np.argmin(ok.any(axis=1)))
            self._explain(zc[c, 0], jax.tree_util.tree_map(lambda a: a[c, 0], dc),
                          f"{tries} random starting points")
        first = ok.argmax(axis=1)
        idx = jnp.arange(num_chains)
        z = zc[idx, first]
        d = jax.tree_util.tree_map(lambda a: a[idx, first], dc)
        return z, d

    def _check_init(self, init, num_chains: int) -> bool:
        """Whether ``init`` gives one value a chain (a leading chain axis), after checking every value: finite,
        inside its domain, of its declared shape, all with a chain axis of one row a chain or all without."""
        return check_values(self.model, init, self.cont + self.disc, "init", chain_axis=True, complete=True,
                            chains=num_chains)

    def _valid(self, z, d):
        if z.ndim == 1:
            return jax.jit(lambda z, d: self._finite(z, d))(z, d)
        valid = self.__dict__.get("_jit_valid")  # kept: a new jit each call traces again
        if valid is None:
            valid = self._jit_valid = jax.jit(jax.vmap(self._finite))
        return valid(z, d)

    def _finite(self, z, d):
        lp, g = self.logdensity_and_grad(z, d)
        return jnp.isfinite(lp) & jnp.all(jnp.isfinite(g))

    def _explain(self, z, d, what):
        """Raise an error naming the factor whose energy is not finite at z."""
        vals = {**self.constrain(z), **d}
        energies = self.low.factor_energies(self.params, vals, self.consts)
        for f in self.model.factors:
            e = float(energies[f.name])
            if not np.isfinite(e):
                where = f" ({f.span.file}:{f.span.line})" if f.span is not None else ""
                raise EbmError("init", f"no finite starting point among {what}: factor '{f.name}'{where} "
                                       f"gives energy {e}", f.span,
                               "check the factor's domain (log of a negative number, division by zero, ...) "
                               "or pass init= with a point where the energy is finite")
        raise EbmError("init", f"no finite starting point among {what}: the energy is finite but its gradient "
                               f"is not", None, "pass init= with a point where the gradient is finite")

