"""Benchmark: ebmppl against TorchEBM (PyTorch, CPU) on the same neural energy, in one process.

Optional: runs when ``torch`` and ``torchebm`` are importable (``pip install torch==2.13.0`` takes the
CPU build on disk, then ``pip install torchebm``; the ``bench-torch`` extra names them); otherwise it
prints why it skipped and writes no rows.

Energy E(x) = MLP(x) + ½|x|², MLP D -> 128 -> 128 -> 1 with SiLU (ebmppl's ``swish``), float32, the
same weights in both libraries (ebmppl's initial params copied into a ``torch.nn.Sequential``), D in
{2, 16, 64}. Compared, each as a warm call (compile excluded on ebmppl's side and reported apart):

* **Langevin**, 1024 chains x 100 steps, step 1e-2, from the same starting points:
  ``ebmppl.sample(sampler="ula", chains=1024, draws=100, warmup=0, step_size=1e-2)`` (every draw kept,
  an InferenceData built) and the same 100 steps keeping the last state only (``draws=1, thin=100``,
  what TorchEBM returns) vs ``torchebm.samplers.LangevinDynamics(...).sample(x, n_steps=100)``;
* **one optimizer step** (loss, gradient, adam update) at batch 256 for exact score matching
  (``sm``; TorchEBM ``ScoreMatching(hessian_method="exact")``), sliced (``ssm``; ``SlicedScoreMatching``,
  one projection) and denoising (``dsm``, sigma 0.1; ``DenoisingScoreMatching``): ebmppl's objective
  from ``build_objective`` stepped as ebmppl/training/trainer.py steps it (benchmarks/fitting.py's
  ``sm_step``) vs ``loss.backward(); adam.step()``.

Ratio = TorchEBM time / ebmppl time (> 1: ebmppl faster); target >= 1.5 (issue 18). Both libraries
use the machine's cores (``torch.set_num_threads(os.cpu_count())``). Timing as the other scripts:
best of interleaved repeats of an inner loop long enough to time (harness.bench_thunks), paired
ratio = median of the within-repeat ratios.

    python benchmarks/versus_torch.py [--quick] [--json PATH]
"""

from __future__ import annotations

import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import ebmppl
from ebmppl.training.api import build_objective
from ebmppl.training.problem import Problem
from harness import bench_thunks, blocking, env_summary, environment, log, make_parser, paired, print_table, row
from harness import config as harness_config
from harness import write_json

DIMS, CHAINS, STEPS, EPS, BATCH, HIDDEN, SIGMA = (2, 16, 64), 1024, 100, 1e-2, 256, 128, 0.1
T_TORCH = 1.5
SRC = """
var   x : real[{D}]
param f : mlp({D}, [{H}, {H}], 1, act=swish)
factor net     = f(x)[0]
factor confine = 0.5 * sum(x^2)
"""


def torch_parts():
    """``(torch, torchebm)`` or None with the reason printed."""
    try:
        import torch
        import torchebm  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e.name} is not installed (pip install torch==2.13.0 torchebm)")
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    return torch, torchebm


def torch_energy(torch, params: dict):
    """A TorchEBM model with ebmppl's MLP weights: E(x) = MLP(x) + ½|x|²."""
    from torchebm.core import BaseModel

    layers = []
    for i in range(3):
        lin = torch.nn.Linear(*np.asarray(params[f"W{i}"]).shape)
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(np.asarray(params[f"W{i}"]).T))
            lin.bias.copy_(torch.tensor(np.asarray(params[f"b{i}"])))
        layers += [lin] + ([torch.nn.SiLU()] if i < 2 else [])

    class Energy(BaseModel):
        def __init__(self):
            super().__init__()
            self.net = torch.nn.Sequential(*layers)

        def forward(self, x, *args, **kwargs):
            return self.net(x).squeeze(-1) + 0.5 * (x * x).sum(-1)
    return Energy()


def check_same_energy(torch, model, params, energy, dim: int) -> float:
    """Largest difference between the two libraries' energies at 64 points (they must agree)."""
    x = np.random.default_rng(dim).normal(size=(64, dim)).astype(np.float32)
    ours = np.asarray(jax.vmap(lambda v: model.energy(params, {"x": v}))(jnp.asarray(x)))
    with torch.no_grad():
        theirs = energy(torch.tensor(x)).numpy()
    worst = float(np.max(np.abs(ours - theirs) / (1 + np.abs(theirs))))
    assert worst < 1e-4, f"D={dim}: the energies differ ({worst:.2e})"
    return worst


def langevin_thunks(torch, torchebm, model, params, energy, dim: int) -> dict:
    from torchebm.samplers import LangevinDynamics

    x0 = np.random.default_rng(0).normal(size=(CHAINS, dim)).astype(np.float32)
    init = {"x": x0}
    kw = dict(sampler="ula", chains=CHAINS, warmup=0, step_size=EPS, init=init, progress=False, verbose=False)
    sampler = LangevinDynamics(energy, step_size=EPS, noise_scale=1.0)
    xt = torch.tensor(x0)
    thunks = {
        "ebmppl_all": lambda: ebmppl.sample(model, params, draws=STEPS, **kw),
        "ebmppl_last": lambda: ebmppl.sample(model, params, draws=1, thin=STEPS, **kw),
        "torchebm": lambda: sampler.sample(x=xt.clone(), n_steps=STEPS),
    }
    for f in thunks.values():
        f()  # compile / warm
    return thunks


def step_thunks(torch, torchebm, model, params, energy, dim: int) -> dict:
    from torchebm.losses import DenoisingScoreMatching, ScoreMatching, SlicedScoreMatching
    from fitting import sm_step

    problem = Problem(model)
    x = np.random.default_rng(dim + 1).normal(size=(BATCH, dim)).astype(np.float32)
    batch, opt = {"x": jnp.asarray(x)}, optax.adam(1e-3)
    theta = {"model": problem.unconstrain(params), "extra": {}}
    xt = torch.tensor(x)
    torch_losses = {"sm": ScoreMatching(energy, hessian_method="exact"),
                    "ssm": SlicedScoreMatching(energy, n_projections=1),
                    "dsm": DenoisingScoreMatching(energy, noise_scale=SIGMA)}
    t_opt = torch.optim.Adam(energy.parameters(), lr=1e-3)
    thunks = {}
    for method, t_loss in torch_losses.items():
        options = {"sigma": SIGMA} if method == "dsm" else {}
        obj = build_objective(method, problem, batch, BATCH, options)
        step = jax.jit(sm_step(problem, obj, opt))
        args = (theta, opt.init(theta), batch, jax.random.PRNGKey(1))
        assert np.isfinite(float(step(*args)[2]))
        thunks[f"{method}_ebmppl"] = blocking(step, *args)

        def torch_step(t_loss=t_loss):
            t_opt.zero_grad()
            loss = t_loss(xt)
            loss.backward()
            t_opt.step()
            return loss
        assert np.isfinite(float(torch_step()))
        thunks[f"{method}_torchebm"] = torch_step
    return thunks


def bench_dim(torch, torchebm, dim: int, cfg) -> list:
    model = ebmppl.parse(SRC.format(D=dim, H=HIDDEN), f"mlp{dim}.ebm")
    params = model.init_params(0)
    energy = torch_energy(torch, params["f"])
    worst = check_same_energy(torch, model, params, energy, dim)
    thunks = {**langevin_thunks(torch, torchebm, model, params, energy, dim),
              **step_thunks(torch, torchebm, model, params, energy, dim)}
    res = bench_thunks(thunks, cfg["repeats"], cfg["min_time"], block=False, warmup=1)
    s = {k: v["best_s"] for k, v in res.items()}
    S = {k: v["samples_s"] for k, v in res.items()}
    sec = f"vs TorchEBM, E = MLP(x) + |x|²/2, MLP {dim}->{HIDDEN}->{HIDDEN}->1 SiLU (energies agree to {worst:.0e})"

    def r(label, ours, theirs, target=T_TORCH):
        return row(sec, label, s[ours], s[theirs], s[theirs] / s[ours], paired(S[theirs], S[ours]), target,
                   unit="ms" if s[ours] < 1 else "s")
    rows = [r(f"Langevin {CHAINS} chains x {STEPS} steps, every draw kept (D={dim})", "ebmppl_all", "torchebm"),
            r(f"Langevin {CHAINS} chains x {STEPS} steps, last state only (D={dim})", "ebmppl_last", "torchebm")]
    for method in ("sm", "ssm", "dsm"):
        rows.append(r(f"{method} optimizer step, batch {BATCH} (D={dim})", f"{method}_ebmppl", f"{method}_torchebm"))
    for row_ in rows:  # harness.row reports times in its unit: seconds -> ms where asked
        if row_["unit"] == "ms":
            row_["ebmppl"], row_["peer"] = 1e3 * row_["ebmppl"], 1e3 * row_["peer"]
    return rows


def main(argv=None) -> int:
    ap = make_parser(__doc__, "7 repeats, short inner loops (a few minutes on 2 cores)")
    args = ap.parse_args(argv)
    cfg = harness_config({"repeats": 7, "min_time": 0.2}, {"repeats": 11, "min_time": 0.5}, args.quick,
                         args.repeats, args.min_time)
    parts = torch_parts()
    if parts is None:
        if args.json:
            write_json(args.json, {"skipped": True, "rows": []})
        return 0
    torch, torchebm = parts
    env = environment({"torch": torch.__version__, "torchebm": getattr(torchebm, "__version__", "?")})
    print(f"{env_summary(env)}; torch {torch.__version__}, torchebm {env['torchebm']}", flush=True)
    t0, rows = time.perf_counter(), []
    for dim in DIMS:
        rows += bench_dim(torch, torchebm, dim, cfg)
        log(f"  D={dim}: timed")
    print()
    print_table(rows)
    print(f"\nratio = TorchEBM time / ebmppl time (> 1: ebmppl faster); best of {cfg['repeats']} interleaved "
          f"repeats, paired = median of the within-repeat ratios. Total {time.perf_counter() - t0:.0f} s, "
          f"load average now {os.getloadavg()[0]:.1f}.")
    if args.json:
        write_json(args.json, {"environment": env, "config": cfg, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
