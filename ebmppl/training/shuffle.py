"""Minibatch shuffling without sorting: a keyed pseudo-random permutation of the row indices.

A training step needs only its own ``batch_size`` row indices of the epoch's shuffled order.
Materializing the whole permutation (``jax.random.permutation``, a sort of all n rows) costs
O(n log n) per epoch and dominates a small step once the data set grows (7 ms for 16 384
rows and 225 ms for 262 144 on a 2-core CPU, against a ~0.3 ms step). Instead, each step
enciphers its positions ``j * batch_size + arange(batch_size)`` with a balanced Feistel network
over the smallest power-of-four domain that holds n (a bijection of that domain), and walks the
cycle until the value falls back inside ``[0, n)`` (Black & Rogaway's cycle walking), which
restricts it to a bijection of ``[0, n)``. The round keys are a function of (key, epoch) only,
so an epoch's order is reproducible and an interrupted run resumes exactly; a step costs
O(batch_size) whatever n is.

The round function is the murmur3 32-bit finalizer of (half-block + round key); six rounds.
This is a shuffle for stochastic gradients, not a cipher.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

ROUNDS = 6


def _mix(x, k):
    """murmur3's 32-bit finalizer of x + k (uint32)."""
    x = x + k
    x = x ^ (x >> 16)
    x = x * jnp.uint32(0x85EBCA6B)
    x = x ^ (x >> 13)
    x = x * jnp.uint32(0xC2B2AE35)
    return x ^ (x >> 16)


def _half_bits(n: int) -> int:
    bits = max(2, (max(n, 2) - 1).bit_length())
    return (bits + 1) // 2


def permute(key, epoch, positions, n: int):
    """The images of ``positions`` (ints in ``[0, n)``) under the epoch's permutation of ``range(n)``."""
    h = _half_bits(n)
    mask = jnp.uint32((1 << h) - 1)
    ks = jax.random.bits(jax.random.fold_in(key, epoch), (ROUNDS,), dtype=jnp.uint32)

    def encipher(x):
        left, right = x >> h, x & mask
        for i in range(ROUNDS):
            left, right = right, left ^ (_mix(right, ks[i]) & mask)
        return (left << h) | right

    x = encipher(positions.astype(jnp.uint32))
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, encipher(x), x), x)
    return x.astype(jnp.int32)


def batch_indices(key, step, batch_size: int, n: int):
    """Row indices of training step ``step``: epoch ``step // steps_per_epoch``, slot ``step % steps_per_epoch``.

    Each epoch visits ``steps_per_epoch * batch_size`` distinct rows in a fresh order (the last
    ``n mod batch_size`` rows of that order wait for a later epoch).
    """
    steps_per_epoch = max(1, n // batch_size)
    epoch, j = step // steps_per_epoch, step % steps_per_epoch
    return permute(key, epoch, j * batch_size + jnp.arange(batch_size), n)
