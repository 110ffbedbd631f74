"""The last few setups of ``fit`` and ``sample``, kept so that a repeated call neither traces nor compiles.

A setup is what a call's compiled programs close over: the model object, the method or sampler and
its options, params, consts, data. :class:`Setups` is a small LRU keyed by a tuple the caller builds
from those; the model is keyed by identity, and an entry keeps its model alive and a hit checks it is
the same object, so an ``id`` is never reused while its entry lives. :func:`digest` turns arrays into
a part of such a key.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any, Optional

import jax
import numpy as np


class Setups:
    """An LRU of ``key -> (model, value)`` holding at most ``kept`` entries."""

    def __init__(self, kept: int = 4):
        self.kept = kept
        self._entries: "OrderedDict[tuple, tuple]" = OrderedDict()

    def get(self, key: Optional[tuple], model) -> Any:
        """The value kept for ``key`` if its model is ``model``, else None."""
        hit = self._entries.get(key) if key is not None else None
        if hit is None or hit[0] is not model:
            return None
        self._entries.move_to_end(key)
        return hit[1]

    def put(self, key: Optional[tuple], model, value) -> None:
        if key is None:
            return
        self._entries[key] = (model, value)
        while len(self._entries) > self.kept:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def digest(*trees) -> Optional[str]:
    """A digest of the structure, dtypes, shapes and bytes of the arrays in ``trees``, or None when a
    leaf is not a numeric array (an object it cannot read as bytes)."""
    h = hashlib.blake2b(digest_size=16)
    for tree in trees:
        leaves, treedef = jax.tree_util.tree_flatten(tree)
        h.update(str(treedef).encode())
        for leaf in leaves:
            try:
                a = np.ascontiguousarray(leaf)
            except (TypeError, ValueError):
                return None
            if a.dtype == object:
                return None
            h.update(f"{a.dtype}:{a.shape};".encode())
            h.update(a.tobytes())
    return h.hexdigest()


def context() -> tuple:
    """What every compiled program also depends on: float64 on or off, and the number of devices."""
    return bool(jax.config.jax_enable_x64), len(jax.devices())
