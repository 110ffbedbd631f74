"""The minibatch shuffle (ebmppl/training/shuffle.py): a bijection of range(n) per epoch, fresh each epoch,
distinct rows within an epoch, and close to uniform over many epochs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from ebmppl.training.shuffle import batch_indices, permute

KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 64, 1000, 1797, 4097])
def test_each_epoch_is_a_permutation(n):
    for epoch in (0, 1, 5):
        p = np.asarray(permute(KEY, epoch, jnp.arange(n), n))
        assert sorted(p.tolist()) == list(range(n))


def test_epochs_and_keys_differ():
    n = 1000
    a, b = (np.asarray(permute(KEY, e, jnp.arange(n), n)) for e in (0, 1))
    c = np.asarray(permute(jax.random.PRNGKey(1), 0, jnp.arange(n), n))
    assert (a != b).mean() > 0.99 and (a != c).mean() > 0.99


def test_batches_of_an_epoch_are_distinct_rows():
    n, bs = 1000, 64
    spe = n // bs
    rows = np.concatenate([np.asarray(batch_indices(KEY, t, bs, n)) for t in range(spe)])
    assert len(set(rows.tolist())) == spe * bs and rows.max() < n
    nxt = np.asarray(batch_indices(KEY, spe, bs, n))  # the first batch of epoch 1 is reshuffled
    assert not np.array_equal(nxt, rows[:bs])


def test_close_to_uniform():
    """Where row 0 lands over 4000 epochs of n = 10: a chi-square test at a fixed seed (df 9, p > 0.001)."""
    n, epochs = 10, 4000
    pos = jax.vmap(lambda e: jnp.argmax(permute(KEY, e, jnp.arange(n), n) == 0))(jnp.arange(epochs))
    counts = np.bincount(np.asarray(pos), minlength=n)
    chi2 = float(((counts - epochs / n) ** 2 / (epochs / n)).sum())
    assert chi2 < 27.9, counts  # the 0.999 quantile of chi-square with 9 degrees of freedom
