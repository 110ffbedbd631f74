"""The sampler cores in BlackJAX's shape: State/Info, one init, draw + step_with, one Metropolis–Hastings
accept, the sweep's pre-drawn uniforms, and random discrete starts from the domain table."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import ebmppl
from ebmppl.infer import base, gibbs, mala, proposal, rwmh, ula
from ebmppl.infer.target import Target

CORES = {"mala": mala, "ula": ula, "rwmh": rwmh}


def _gauss():
    """log p(z) = -|z|^2 / 2 on R^3, with its gradient."""
    def ld(z):
        return jax.value_and_grad(lambda z: -0.5 * jnp.sum(z ** 2))(z)
    return ld, jnp.array([0.3, -1.0, 2.0])


@pytest.mark.parametrize("name", sorted(CORES))
def test_core_exports_state_info_and_one_shared_init(name):
    core = CORES[name]
    assert core.State is base.State and core.Info is base.Info and core.init is base.init
    ld, z = _gauss()
    state = core.init(z, ld)
    assert isinstance(state, base.State)
    np.testing.assert_allclose(state.logdensity, -0.5 * float(jnp.sum(z ** 2)), rtol=1e-6)
    np.testing.assert_allclose(state.grad, -z)
    new, info = core.step_with(core.draw(jax.random.PRNGKey(0), z), state, ld, 0.2, jnp.ones(3))
    assert isinstance(new, base.State) and isinstance(info, base.Info)
    assert new.position.shape == z.shape and info.acceptance_rate.shape == () and info.is_accepted.dtype == bool
    assert not bool(info.diverging)


def test_mala_accepts_with_the_shared_metropolis_hastings_rule():
    ld, z = _gauss()
    state = mala.init(z, ld)
    xi, _ = mala.draw(jax.random.PRNGKey(1), z)
    moved, info = mala.step_with((xi, jnp.asarray(0.0)), state, ld, 0.3, 1.0)  # u = 0: any finite proposal
    assert bool(info.is_accepted) and not np.array_equal(moved.position, z)
    kept, info = mala.step_with((xi, jnp.asarray(1.0)), state, ld, 0.3, 1.0)  # u = 1: never accepted
    assert not bool(info.is_accepted)
    for a, b in zip(kept, state):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["mala", "rwmh", "ula"])
def test_a_non_finite_proposal_is_rejected_and_diverging(name):
    core = CORES[name]

    def ld(z):  # NaN everywhere but the start
        lp = jnp.where(jnp.all(z == 0.5), 0.0, jnp.nan)
        return lp, jnp.zeros_like(z)
    z = jnp.full((2,), 0.5)
    state = core.init(z, ld)
    new, info = core.step_with(core.draw(jax.random.PRNGKey(0), z), state, ld, 0.1, 1.0)
    assert bool(info.diverging) and not bool(info.is_accepted) and float(info.acceptance_rate) == 0.0
    np.testing.assert_array_equal(new.position, z)


def test_mh_accept():
    chosen, p, acc = proposal.mh_accept(jnp.asarray(0.5), jnp.log(0.25), True, (1.0, 2.0), (3.0, 4.0))
    assert float(p) == pytest.approx(0.25) and not bool(acc) and tuple(map(float, chosen)) == (3.0, 4.0)
    chosen, p, acc = proposal.mh_accept(jnp.asarray(0.99), jnp.asarray(3.0), True, (1.0, 2.0), (3.0, 4.0))
    assert float(p) == 1.0 and bool(acc) and tuple(map(float, chosen)) == (1.0, 2.0)
    _, p, acc = proposal.mh_accept(jnp.asarray(0.0), jnp.asarray(3.0), False, 1.0, 3.0)
    assert float(p) == 0.0 and not bool(acc)


RBM = ("var v : binary[5]\nlatent h : binary[3]\nparam W : real[5, 3] ~ normal(0, 1)\n"
       "factor rbm = -(v @ W @ h)")


def test_sweep_draw_gives_one_uniform_array_per_block():
    # draw(key, *lead) is one uniform call split per block: the numbers a trainer drawing
    # uniform(key, (sweeps, chains, elements)) itself would split
    m = ebmppl.parse(RBM)
    p = m.init_params(0)
    target = Target(m, p)
    lay = gibbs.layout(target)
    sweep = gibbs.make_sweep(lay, gibbs.find_blocks(target, lay), lambda z, d: m.energy(p, d))
    key = jax.random.PRNGKey(3)
    us = sweep.draw(key, 4, 2)
    sizes = [len(b) for b in sweep.blocks.blocks]
    assert [u.shape for u in us] == [(4, 2, s) for s in sizes]
    whole = jax.random.uniform(key, (4, 2, sum(sizes)))
    np.testing.assert_array_equal(jnp.concatenate(us, axis=-1), whole)
    d = target.random_discrete(jax.random.PRNGKey(0))
    one = sweep.step_with([u[0, 0] for u in us], jnp.zeros((0,)), d)
    assert set(one) == {"v", "h"} and set(np.unique(np.asarray(one["v"]))) <= {0.0, 1.0}


def test_random_discrete_starts_come_from_the_domains():
    m = ebmppl.parse("var b : binary[50]\nvar s : spin[50]\nvar c : categorical(3)[50]\n"
                     "factor f = sum(b) + sum(s) + 0.1 * sum(c)")
    d = Target(m).random_discrete(jax.random.PRNGKey(0))
    assert set(np.unique(np.asarray(d["b"]))) == {0.0, 1.0}
    assert set(np.unique(np.asarray(d["s"]))) == {-1.0, 1.0}
    assert set(np.unique(np.asarray(d["c"]))) == {0, 1, 2} and jnp.issubdtype(d["c"].dtype, jnp.integer)
