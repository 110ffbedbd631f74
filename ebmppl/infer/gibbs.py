"""Block Gibbs sampling for binary, spin and categorical variables.

The blocks come from the model, not the user. The interaction graph of the
binary/spin elements is read off the Hessian of the energy (relaxed to real
values, at random points): two elements interact when a mixed second
derivative is non-zero. A greedy colouring of that graph gives blocks of
mutually non-interacting elements — the visible and hidden layers of an RBM,
the two colours of a checkerboard on a lattice — which are updated in
parallel from their exact conditionals. When the energy is affine in a block
(checked on the jaxpr, as for free energies) the conditionals come from one
gradient: p(x_i = 1 | rest) = sigmoid(-dE/dx_i) (binary) or
sigmoid(-2 dE/ds_i) (spin); otherwise from two energy evaluations per element.
Categorical elements are updated one at a time over all K values.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..config import float_dtype
from ..model.affine import jaxpr_degree


class Layout(NamedTuple):
    """Where each discrete variable lives in a flat vector."""

    names: tuple
    kinds: tuple
    shapes: tuple
    offsets: tuple
    sizes: tuple
    ks: tuple  # categories (2 for binary/spin)

    @property
    def n(self) -> int:
        return int(sum(self.sizes))

    def flatten(self, d: dict):
        if not self.names:
            return jnp.zeros((0,), float_dtype())
        return jnp.concatenate([jnp.ravel(d[n]).astype(float_dtype()) for n in self.names])

    def unflatten(self, x) -> dict:
        out = {}
        for n, k, shape, off, size in zip(self.names, self.kinds, self.shapes, self.offsets, self.sizes):
            v = x[off: off + size].reshape(shape)
            out[n] = v.astype(jnp.int32) if k == "categorical" else v
        return out

    def element_kinds(self) -> np.ndarray:
        return np.concatenate([np.full(s, k, dtype=object) for k, s in zip(self.kinds, self.sizes)]) \
            if self.names else np.zeros(0, dtype=object)


def layout(target) -> Layout:
    names, kinds, shapes, offsets, sizes, ks = [], [], [], [], [], []
    off = 0
    for s in target.disc:
        shape = target.low.shapes[s.name]
        size = int(np.prod(shape, dtype=np.int64))
        names.append(s.name), kinds.append(s.domain.kind), shapes.append(shape)
        offsets.append(off), sizes.append(size)
        ks.append(target.low.domain_args[s.name][0] if s.domain.kind == "categorical" else 2)
        off += size
    return Layout(tuple(names), tuple(kinds), tuple(shapes), tuple(offsets), tuple(sizes), tuple(ks))


def interaction_graph(target, lay: Layout, key=0, points: int = 3):
    """(adjacency, self-curvature) of binary/spin elements: |d2E / dx_i dx_j| > 0 at random relaxed points.

    The points also randomize the continuous variables (uniform(-2, 2) on the unconstrained space) and
    the real-valued params, so a coupling that happens to vanish at the current values (a param
    initialized to 0, a continuous var at 0) still counts as an edge. A non-finite second derivative
    counts as an edge too: extra edges only make blocks smaller, never wrong.

    Returns a boolean (n, n) adjacency and a boolean vector marking elements with d2E/dx_i^2 != 0.
    """
    kinds = lay.element_kinds()
    n = lay.n
    rng = np.random.default_rng(key)
    adj = np.zeros((n, n), dtype=bool)
    low = target.low

    def energy(x, z, params):
        return low.energy(params, {**target.constrain(z), **lay.unflatten(x)}, target.consts)
    hess = jax.jit(jax.hessian(energy))
    base = np.asarray(lay.flatten(target.d_example))
    for k in range(points):
        x = np.where(kinds == "spin", rng.uniform(-1, 1, n), rng.uniform(0, 1, n))
        x = np.where(kinds == "categorical", base, x)  # categorical elements stay integers
        z = jnp.asarray(rng.uniform(-2, 2, target.dim), float_dtype())
        params = _perturbed(target, rng) if k else target.params
        h = np.asarray(hess(jnp.asarray(x, float_dtype()), z, params))
        finite = np.isfinite(h)
        scale = max(1.0, float(np.abs(h[finite]).max())) if finite.any() else 1.0
        adj |= ~(np.abs(h) <= 1e-9 * scale)
    diag = np.diag(adj).copy()
    np.fill_diagonal(adj, False)
    return adj, diag


def _perturbed(target, rng):
    """The target's params with noise added to the real-valued (and mlp) ones."""
    out = dict(target.params)
    for s in target.model.params:
        if s.domain.kind in ("real", "mlp"):
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
    blocks: tuple  # tuple of index arrays (binary/spin)
    affine: tuple  # bool per block
    categorical: np.ndarray  # indices of categorical elements (updated one by one)


def find_blocks(target, lay: Layout) -> Blocks:
    kinds = lay.element_kinds()
    two_state = np.flatnonzero(kinds != "categorical")
    cat = np.flatnonzero(kinds == "categorical")
    if len(two_state):
        adj, diag = interaction_graph(target, lay)
        blocks = colour(adj, two_state)
    else:
        blocks, diag = [], None
    affine = tuple(_affine_in(target, lay, b, diag) for b in blocks)
    return Blocks(tuple(blocks), affine, cat)


def _affine_in(target, lay: Layout, idx: np.ndarray, diag) -> bool:
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


def _flip_values(kinds_b):
    """(value for 'on', value for 'off') per element: binary 1/0, spin +1/-1."""
    on = np.ones(len(kinds_b))
    off = np.where(kinds_b == "spin", -1.0, 0.0)
    return jnp.asarray(on, float_dtype()), jnp.asarray(off, float_dtype())


def build_update(target, lay: Layout = None, blocks: Blocks = None):
    """The discrete core for a Target: ``update(key, z, d) -> (d, 1.0)``, one sweep over all blocks."""
    lay = lay or layout(target)
    blocks = blocks or find_blocks(target, lay)
    update = make_sweep(lay, blocks, target.energy_of)
    update.blocks = blocks
    update.layout = lay
    return update


def make_sweep(lay: Layout, blocks: Blocks, energy_of):
    """A Gibbs sweep over ``blocks`` for any energy ``energy_of(z, d)``; trainers pass one that closes
    over the current (traced) params to move persistent chains."""
    kinds = lay.element_kinds()

    def energy(z, x):
        return energy_of(z, lay.unflatten(x))

    def block_step(key, z, x, idx, affine):
        return block_step_u(jax.random.uniform(key, (len(idx),)), z, x, idx, affine)

    def block_step_u(u, z, x, idx, affine):
        """One block from its conditionals, given one uniform per element."""
        idx_j = jnp.asarray(idx)
        on, off = _flip_values(kinds[idx])
        lo, hi = int(idx[0]), int(idx[-1]) + 1
        if hi - lo == len(idx):  # a contiguous block (a whole layer): static slices, no gather/scatter
            get = lambda x: x[lo:hi]  # noqa: E731
            put = lambda x, v: jax.lax.dynamic_update_slice(x, v, (lo,))  # noqa: E731
        else:
            get = lambda x: x[idx_j]  # noqa: E731
            put = lambda x, v: x.at[idx_j].set(v)  # noqa: E731
        if affine:
            g = jax.grad(lambda xb: energy(z, put(x, xb)))(get(x))
            delta = g * (on - off)  # E(on) - E(off)
        else:
            e_on = jax.vmap(lambda i, v: energy(z, x.at[i].set(v)))(idx_j, on)
            e_off = jax.vmap(lambda i, v: energy(z, x.at[i].set(v)))(idx_j, off)
            delta = e_on - e_off
        p_on = jax.nn.sigmoid(-delta)
        return put(x, jnp.where(u.astype(p_on.dtype) < p_on, on, off))

    def cat_step(key, z, x, i):
        k = int(max(lay.ks))
        vals = jnp.arange(k, dtype=x.dtype)
        es = jax.vmap(lambda v: energy(z, x.at[i].set(v)))(vals)
        logits = jnp.where(vals < _k_of(lay, i), -es, -jnp.inf)  # variables with fewer categories
        return x.at[i].set(jax.random.categorical(key, logits).astype(x.dtype))

    cats = blocks.categorical

    def update(key, z, d):
        x = lay.flatten(d)
        keys = jax.random.split(key, len(blocks.blocks) + 1)
        for k, idx, aff in zip(keys, blocks.blocks, blocks.affine):
            x = block_step(k, z, x, idx, aff)
        if len(cats):
            ckeys = jax.random.split(keys[-1], len(cats))

            def body(x, a):
                return cat_step(a[0], z, x, a[1]), None
            x, _ = jax.lax.scan(body, x, (ckeys, jnp.asarray(cats)))
        return lay.unflatten(x), jnp.ones((), float_dtype())

    # blocks that are exactly whole variables (an RBM's layers): moved in the variables' own arrays,
    # without flattening the state into one vector and slicing it back each sweep
    whole = {}  # block -> (variable name, its shape)
    for i, idx in enumerate(blocks.blocks):
        for name, kind, shape, off, size in zip(lay.names, lay.kinds, lay.shapes, lay.offsets, lay.sizes):
            if kind != "categorical" and len(idx) == size and np.array_equal(idx, np.arange(off, off + size)):
                whole[i] = (name, shape)

    def var_step_u(u, z, d, i, affine):
        """Block ``i``, the whole variable ``whole[i]``, from its conditionals given one uniform per element."""
        name, shape = whole[i]
        on, off = (a.reshape(shape) for a in _flip_values(kinds[blocks.blocks[i]]))
        xb = d[name]
        if affine:
            delta = jax.grad(lambda v: energy_of(z, {**d, name: v}))(xb) * (on - off)
        else:
            flat_on, flat_off = (a.reshape(-1) for a in (on, off))
            e = jax.vmap(lambda j, v: energy_of(z, {**d, name: xb.reshape(-1).at[j].set(v).reshape(shape)}))
            j = jnp.arange(flat_on.shape[0])
            delta = (e(j, flat_on) - e(j, flat_off)).reshape(shape)
        p_on = jax.nn.sigmoid(-delta)
        return {**d, name: jnp.where(u.reshape(shape).astype(p_on.dtype) < p_on, on, off).astype(xb.dtype)}

    def update_u(us, z, d):
        """A sweep over the two-state blocks with its uniforms given (one array per block): trainers draw
        the uniforms of all chains and sweeps in one call instead of splitting a key per chain."""
        if len(whole) == len(blocks.blocks):
            for i, (u, aff) in enumerate(zip(us, blocks.affine)):
                d = var_step_u(u, z, d, i, aff)
            return d
        x = lay.flatten(d)
        for u, idx, aff in zip(us, blocks.blocks, blocks.affine):
            x = block_step_u(u, z, x, idx, aff)
        return lay.unflatten(x)

    update.with_uniforms = update_u
    return update


def _k_of(lay: Layout, i):
    """Number of categories of flat element i (traced)."""
    ks = np.concatenate([np.full(s, k) for k, s in zip(lay.ks, lay.sizes)])
    return jnp.asarray(ks)[i]


def describe(blocks: Blocks, lay: Layout) -> str:
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


class Gibbs:
    """Marker for `sample(sampler="gibbs")`; see :func:`build_update`."""
