"""Block Gibbs sampling for finite discrete variables (binary, spin, categorical).

The blocks come from the model, not the user. The interaction graph of the
two-state (binary/spin) elements is read off the Hessian of the energy
(relaxed to real values, at random points): two elements interact when a mixed
second derivative is non-zero. A greedy colouring of that graph gives blocks of
mutually non-interacting elements — the visible and hidden layers of an RBM,
the two colours of a checkerboard on a lattice — which are updated in
parallel from their exact conditionals. When the energy is affine in a block
(checked on the jaxpr, as for free energies) the conditionals come from one
gradient: p(x_i = on | rest) = sigmoid(-dE/dx_i (on - off)); otherwise from two
energy evaluations per element. Elements with more than two states
(categorical) are updated one at a time over all their values.

What each element can be is the domain table's (:mod:`ebmppl.model.domains`): a
:class:`DiscreteLayout` keeps each variable's row and bound arguments.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.distributions import constraints

from ..settings import float_dtype
from ..model.affine import jaxpr_degree


class DiscreteLayout(NamedTuple):
    """Where each discrete variable lives in a flat vector, with its domain row and arguments."""

    names: tuple
    kinds: tuple  # the domain kinds' names (for messages and display)
    rows: tuple  # the domain table's rows (DomainKind)
    args: tuple  # each variable's bound domain arguments
    shapes: tuple
    offsets: tuple
    sizes: tuple
    ks: tuple  # the number of states of one element

    @property
    def n(self) -> int:
        return int(sum(self.sizes))

    def flatten(self, d: dict):
        if not self.names:
            return jnp.zeros((0,), float_dtype())
        return jnp.concatenate([jnp.ravel(d[n]).astype(float_dtype()) for n in self.names])

    def unflatten(self, x) -> dict:
        out = {}
        for n, row, shape, off, size in zip(self.names, self.rows, self.shapes, self.offsets, self.sizes):
            v = x[off: off + size].reshape(shape)
            out[n] = v.astype(jnp.int32) if row.integer else v
        return out

    def per_element(self, values, dtype) -> np.ndarray:
        """One value per variable, repeated over its elements."""
        return np.concatenate([np.full(s, v, dtype=dtype) for v, s in zip(values, self.sizes)]) \
            if self.names else np.zeros(0, dtype=dtype)

    def element_kinds(self) -> np.ndarray:
        """Each element's domain kind name."""
        return self.per_element(self.kinds, object)

    def two_state(self) -> np.ndarray:
        """Per element: does it have exactly two states (binary, spin), moved in blocks?"""
        return self.per_element([row.two_state for row in self.rows], bool)

    def element_states(self) -> tuple[np.ndarray, np.ndarray]:
        """Per element (off, on): its first and last state (binary 0/1, spin -1/+1)."""
        states = [row.states(args) for row, args in zip(self.rows, self.args)]
        return (self.per_element([float(s[0]) for s in states], np.float64),
                self.per_element([float(s[-1]) for s in states], np.float64))


def layout(target) -> DiscreteLayout:
    """The flat layout of a Target's discrete variables."""
    names, kinds, rows, args, shapes, offsets, sizes, ks = [], [], [], [], [], [], [], []
    off = 0
    for s in target.disc:
        shape = target.low.shapes[s.name]
        size = int(np.prod(shape, dtype=np.int64))
        row, a = s.domain.row, tuple(target.low.domain_args[s.name])
        names.append(s.name), kinds.append(s.domain.kind), rows.append(row), args.append(a), shapes.append(shape)
        offsets.append(off), sizes.append(size), ks.append(row.n_states(a))
        off += size
    return DiscreteLayout(tuple(names), tuple(kinds), tuple(rows), tuple(args), tuple(shapes), tuple(offsets),
                          tuple(sizes), tuple(ks))


# ------------------------------------------------------------------ the blocks
def interaction_graph(target, lay: DiscreteLayout, key=0, points: int = 3):
    """(adjacency, self-curvature) of two-state elements: |d2E / dx_i dx_j| > 0 at random relaxed points.

    A relaxed element is uniform between its two states. The points also randomize the continuous
    variables (uniform(-2, 2) on the unconstrained space) and the real-valued params, so a coupling
    that happens to vanish at the current values (a param initialized to 0, a continuous var at 0)
    still counts as an edge. A non-finite second derivative counts as an edge too: extra edges only
    make blocks smaller, never wrong.

    Returns a boolean (n, n) adjacency and a boolean vector marking elements with d2E/dx_i^2 != 0.
    """
    two = lay.two_state()
    off, on = lay.element_states()
    n = lay.n
    rng = np.random.default_rng(key)
    adj = np.zeros((n, n), dtype=bool)
    low = target.low

    def energy(x, z, params):
        return low.energy(params, {**target.constrain(z), **lay.unflatten(x)}, target.consts)
    hess = jax.jit(jax.hessian(energy))
    base = np.asarray(lay.flatten(target.d_example))
    for k in range(points):
        x = np.where(two, off + (on - off) * rng.uniform(0, 1, n), base)  # other elements stay integers
        z = jnp.asarray(rng.uniform(-2, 2, target.dim), float_dtype())
        params = perturbed_params(target, rng) if k else target.params
        h = np.asarray(hess(jnp.asarray(x, float_dtype()), z, params))
        finite = np.isfinite(h)
        scale = max(1.0, float(np.abs(h[finite]).max())) if finite.any() else 1.0
        adj |= ~(np.abs(h) <= 1e-9 * scale)
    diag = np.diag(adj).copy()
    np.fill_diagonal(adj, False)
    return adj, diag


def perturbed_params(target, rng):
    """The target's params with noise added to those whose support is the whole real line (real, mlp)."""
    out = dict(target.params)
    for s in target.model.params:
        if s.domain.row.constraint(tuple(target.low.domain_args[s.name])) is constraints.real:
            out[s.name] = jax.tree_util.tree_map(
                lambda a: a + jnp.asarray(rng.normal(size=np.shape(a)), jnp.result_type(a)) * (1.0 + jnp.abs(a)),
                target.params[s.name])
    return out


def colour(adj: np.ndarray, candidates: np.ndarray) -> list[np.ndarray]:
    """Greedy colouring in index order: blocks of mutually non-adjacent elements."""
    colours = -np.ones(adj.shape[0], dtype=int)
    for i in candidates:
        used = set(colours[adj[i]]) - {-1}
        c = 0
        while c in used:
            c += 1
        colours[i] = c
    return [np.flatnonzero(colours == c) for c in range(colours.max() + 1)] if len(candidates) else []


class Blocks(NamedTuple):
    blocks: tuple  # tuple of index arrays (two-state elements)
    affine: tuple  # bool per block
    categorical: np.ndarray  # indices of the elements with more than two states (updated one by one)


def find_blocks(target, lay: DiscreteLayout) -> Blocks:
    two = lay.two_state()
    if two.any():
        adj, diag = interaction_graph(target, lay)
        blocks = colour(adj, np.flatnonzero(two))
    else:
        blocks, diag = [], None
    affine = tuple(_affine_in(target, lay, b, diag) for b in blocks)
    return Blocks(tuple(blocks), affine, np.flatnonzero(~two))


def _affine_in(target, lay: DiscreteLayout, idx: np.ndarray, diag) -> bool:
    """Is the energy affine in the block's elements jointly?

    Degree <= 1 in the jaxpr: yes. Degree 2 (a quadratic, whose Hessian is constant):
    yes when the Hessian restricted to the block is zero — no edges inside a block by
    construction, and no element with self-curvature.
    """
    base = lay.flatten(target.d_example)
    z = target.z_example
    idx_j = jnp.asarray(idx)

    def f(xb):
        return target.energy_of(z, lay.unflatten(base.at[idx_j].set(xb)))
    closed = jax.make_jaxpr(f)(base[idx_j])
    (deg,) = jaxpr_degree(closed.jaxpr, [1])
    return deg <= 1 or (deg == 2 and not bool(diag[idx].any()))


def whole_variable_blocks(lay: DiscreteLayout, blocks: Blocks) -> dict:
    """``{block index: (variable name, its shape)}`` for the blocks that are exactly one whole variable (an
    RBM's layers): those are moved in the variable's own array, without flattening the state."""
    whole = {}
    for i, idx in enumerate(blocks.blocks):
        for name, row, shape, off, size in zip(lay.names, lay.rows, lay.shapes, lay.offsets, lay.sizes):
            if row.two_state and len(idx) == size and np.array_equal(idx, np.arange(off, off + size)):
                whole[i] = (name, shape)
    return whole


def describe(blocks: Blocks, lay: DiscreteLayout) -> str:
    """Human-readable block structure, e.g. for `sampler="auto"`'s message."""
    names = np.concatenate([np.full(s, n, dtype=object) for n, s in zip(lay.names, lay.sizes)]) \
        if lay.names else np.zeros(0, dtype=object)
    parts = []
    for b, aff in zip(blocks.blocks, blocks.affine):
        vs = sorted(set(names[b]))
        parts.append(f"{len(b)} of {'+'.join(vs)}" + (" (closed form)" if aff else ""))
    if len(blocks.categorical):
        parts.append(f"{len(blocks.categorical)} categorical one at a time")
    return f"{len(blocks.blocks)} block(s): " + "; ".join(parts)


# ------------------------------------------------------------------- the sweep
class Sweep:
    """One Gibbs sweep over ``blocks`` for any energy ``energy_of(z, d)``; trainers pass one that closes over
    the current (traced) params to move persistent chains.

    Two ways to run it:

    * ``sweep(key, z, d) -> (d, 1.0)``: the discrete core of a kernel, every block and the categorical
      elements, its numbers drawn from ``key``;
    * ``sweep.step_with(sweep.draw(key, *lead), z, d) -> d`` (:mod:`ebmppl.predraw`): the two-state blocks
      only, from one uniform per element; ``draw(key, *lead)`` gives them for ``lead`` (e.g. sweeps,
      chains) at once, one array per block, so trainers draw all chains' and sweeps' numbers in one call.

    Example::

        sweep = make_sweep(lay, blocks, target.energy_of)
        d, _ = sweep(key, z, d)
    """

    def __init__(self, lay: DiscreteLayout, blocks: Blocks, energy_of):
        self.layout = lay
        self.blocks = blocks
        self.energy_of = energy_of
        self._off, self._on = lay.element_states()  # numpy: constants in the traced sweep
        self._cuts = np.cumsum([len(b) for b in blocks.blocks])[:-1].tolist()
        self._whole = whole_variable_blocks(lay, blocks)
        self._n_states = lay.per_element(lay.ks, np.int64)

    def __call__(self, key, z, d):
        """One sweep over every block and the categorical elements, its numbers drawn from ``key``."""
        blocks = self.blocks
        x = self.layout.flatten(d)
        keys = jax.random.split(key, len(blocks.blocks) + 1)
        for k, idx, aff in zip(keys, blocks.blocks, blocks.affine):
            x = self._block_step(jax.random.uniform(k, (len(idx),)), z, x, idx, aff)
        if len(blocks.categorical):
            ckeys = jax.random.split(keys[-1], len(blocks.categorical))

            def body(x, a):
                return self._categorical_step(a[0], z, x, a[1]), None
            x, _ = jax.lax.scan(body, x, (ckeys, jnp.asarray(blocks.categorical)))
        return self.layout.unflatten(x), jnp.ones((), float_dtype())

    def draw(self, key, *lead):
        """The uniforms of the two-state blocks, one array per block, with leading axes ``lead``."""
        total = sum(len(b) for b in self.blocks.blocks)
        return jnp.split(jax.random.uniform(key, (*lead, total), float_dtype()), self._cuts, axis=-1)

    def step_with(self, us, z, d) -> dict:
        """A sweep over the two-state blocks with their uniforms given (one array per block, from ``draw``)."""
        if len(self._whole) == len(self.blocks.blocks):
            for i, (u, aff) in enumerate(zip(us, self.blocks.affine)):
                d = self._variable_step(u, z, d, i, aff)
            return d
        x = self.layout.flatten(d)
        for u, idx, aff in zip(us, self.blocks.blocks, self.blocks.affine):
            x = self._block_step(u, z, x, idx, aff)
        return self.layout.unflatten(x)


    def _energy(self, z, x):
        return self.energy_of(z, self.layout.unflatten(x))

    def _states(self, idx):
        """(on, off) of the elements ``idx``."""
        return jnp.asarray(self._on[idx], float_dtype()), jnp.asarray(self._off[idx], float_dtype())

    def _block_step(self, u, z, x, idx, affine):
        """One block of the flat vector ``x`` from its conditionals, given one uniform per element."""
        idx_j = jnp.asarray(idx)
        on, off = self._states(idx)
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if hi - lo == len(idx):  # a contiguous block (a whole layer): static slices, no gather/scatter
            get = lambda x: x[lo:hi]  # noqa: E731
            put = lambda x, v: jax.lax.dynamic_update_slice(x, v, (lo,))  # noqa: E731
        else:
            get = lambda x: x[idx_j]  # noqa: E731
            put = lambda x, v: x.at[idx_j].set(v)  # noqa: E731
        if affine:
            g = jax.grad(lambda xb: self._energy(z, put(x, xb)))(get(x))
            delta = g * (on - off)  # E(on) - E(off)
        else:
            e_on = jax.vmap(lambda i, v: self._energy(z, x.at[i].set(v)))(idx_j, on)
            e_off = jax.vmap(lambda i, v: self._energy(z, x.at[i].set(v)))(idx_j, off)
            delta = e_on - e_off
        p_on = jax.nn.sigmoid(-delta)
        return put(x, jnp.where(u.astype(p_on.dtype) < p_on, on, off))

    def _variable_step(self, u, z, d, i, affine):
        """Block ``i``, a whole variable, from its conditionals given one uniform per element."""
        name, shape = self._whole[i]
        on, off = (a.reshape(shape) for a in self._states(self.blocks.blocks[i]))
        xb = d[name]
        if affine:
            delta = jax.grad(lambda v: self.energy_of(z, {**d, name: v}))(xb) * (on - off)
        else:
            flat_on, flat_off = on.reshape(-1), off.reshape(-1)
            e = jax.vmap(lambda j, v: self.energy_of(z, {**d, name: xb.reshape(-1).at[j].set(v).reshape(shape)}))
            j = jnp.arange(flat_on.shape[0])
            delta = (e(j, flat_on) - e(j, flat_off)).reshape(shape)
        p_on = jax.nn.sigmoid(-delta)
        return {**d, name: jnp.where(u.reshape(shape).astype(p_on.dtype) < p_on, on, off).astype(xb.dtype)}

    def _categorical_step(self, key, z, x, i):
        """Flat element ``i`` (traced) drawn from its conditional over all its values."""
        vals = jnp.arange(int(max(self.layout.ks)), dtype=x.dtype)
        es = jax.vmap(lambda v: self._energy(z, x.at[i].set(v)))(vals)
        logits = jnp.where(vals < jnp.asarray(self._n_states)[i], -es, -jnp.inf)  # variables with fewer values
        return x.at[i].set(jax.random.categorical(key, logits).astype(x.dtype))


def make_sweep(lay: DiscreteLayout, blocks: Blocks, energy_of) -> Sweep:
    """A Gibbs sweep over ``blocks`` for the energy ``energy_of(z, d)`` (see :class:`Sweep`)."""
    return Sweep(lay, blocks, energy_of)


def build_update(target, lay: DiscreteLayout = None, blocks: Blocks = None) -> Sweep:
    """The discrete core for a Target: ``update(key, z, d) -> (d, 1.0)``, one sweep over all blocks (its
    ``blocks`` and ``layout`` are attributes)."""
    lay = lay or layout(target)
    return Sweep(lay, blocks or find_blocks(target, lay), target.energy_of)


class Gibbs:
    """Marker for `sample(sampler="gibbs")`; see :func:`build_update`."""
