"""Flow-contrastive estimation (Gao et al., 2020): NCE against a trainable flow.

The noise is a normalizing flow (a standard normal pushed through NumPyro's
``InverseAutoregressiveTransform`` layers with ``AutoregressiveNN``
conditioners, then an affine map fitted to the data). The EBM (with its
learned log Z) and the flow play the NCE game alternately: on even steps the
EBM descends the NCE loss; on odd steps the flow ascends it, moving its
samples toward where the EBM is still fooled.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from .objective import Objective
from .nce import gaussian_noise
from .vi import Flow


def fce_objective(problem, data, flow_layers: int = 2, hidden: int = 32, nu: float = 1.0) -> Objective:
    problem.require_real("fce")
    flat = jax.vmap(problem.flatten)(data)
    base = gaussian_noise(flat)
    flow = Flow(flat.shape[1], flow_layers, hidden, loc=base.loc, scale_tril=base.scale_tril)
    nu = float(nu)

    def init_extra(key):
        return {"@logz": jnp.asarray(0.0, flat.dtype), "@flow": flow.init(key)}

    def loss(params, batch, key, state):
        xd = jax.vmap(problem.flatten)(batch)
        m = max(1, int(round(nu * xd.shape[0])))
        xn, log_q_n = flow.sample_and_log_prob(params["@flow"], key, m)
        log_q_d = flow.log_prob(params["@flow"], xd)
        logz = params["@logz"]

        def g(v, lq):
            return -problem.flat_energy(params, v) - logz - jnp.log(nu) - lq
        gs = jax.vmap(g)(jnp.concatenate([xd, xn.astype(xd.dtype)]), jnp.concatenate([log_q_d, log_q_n]))
        gd, gn = gs[:xd.shape[0]], gs[xd.shape[0]:]
        value = -jnp.mean(jax.nn.log_sigmoid(gd)) - nu * jnp.mean(jax.nn.log_sigmoid(-gn))
        return value, (state, {"logz": logz})

    model_like = problem.unconstrain(problem.model.init_params(0))

    def groups(t):
        ebm_turn = (t % 2 == 0).astype(flat.dtype)
        # the flow ascends the loss: its gradient is negated on its turns
        return {"model": jax.tree_util.tree_map(lambda _: ebm_turn, model_like),
                "extra": {"@logz": ebm_turn, "@flow": jax.tree_util.tree_map(lambda _: -(1.0 - ebm_turn),
                                                                            flow.like)}}
    return Objective(loss, init_extra, None, groups)

