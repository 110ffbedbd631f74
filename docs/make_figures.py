"""Make the figures of docs/methods.md.

Run from the repository root:

    .venv/bin/python docs/make_figures.py

It fits a neural (MLP) energy to the ring data with flow-contrastive
estimation (``fce``) and with variational training (``vi``, ``q="flow"``),
3000 steps each, draws MALA samples from the initial and the fitted models,
measures how close the samples are to held-out data (squared MMD, Gaussian
kernel, bandwidth 0.3), prints the numbers and writes
``docs/img/fce_vi_ring.png``. On a laptop CPU it takes about a minute.

MALA crosses the ring slowly, so one run of 8 chains covers only a few arcs
and its MMD depends a lot on the seed (on the fitted fce model: 0.05 to 0.14
over seeds 0-2). Each model is therefore sampled SEEDS times with the same
call and different keys, and the MMD is computed on the pooled draws.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ebmppl  # noqa: E402
from ebmppl import fit  # noqa: E402

OUT = ROOT / "docs" / "img" / "fce_vi_ring.png"

RING_MLP = """
var   x : real[2]
param f : mlp(2, [32, 32], 1, act=swish)
factor net     = f(x)[0]
factor confine = 0.5 * sum(x^2) / 16
"""

STEPS, LR, BATCH = 3000, 1e-3, 256
BANDWIDTH = 0.3
SEEDS = 5  # sampling runs pooled per model
LIM = 2.0  # the plotted square is [-LIM, LIM]^2


def mmd(a, b, s=BANDWIDTH):
    """Squared maximum mean discrepancy (biased V-statistic), Gaussian kernel of bandwidth s."""
    def k(x, y):
        return np.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / (2 * s * s))
    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def samples(model, params):
    """SEEDS runs of 8 MALA chains x 100 draws (warmup 300, thin 2), keys 0..SEEDS-1, pooled."""
    out = []
    for key in range(SEEDS):
        idata = ebmppl.sample(model, params, sampler="mala", chains=8, draws=100, warmup=300, thin=2,
                              key=key, progress=False, verbose=False)
        out.append(np.asarray(idata.posterior["x"]).reshape(-1, 2))
    return np.concatenate(out)


def density_on_grid(model, params, n=200):
    """exp(-E) on an n x n grid over [-LIM, LIM]^2, normalized to integrate to one over the square."""
    g = np.linspace(-LIM, LIM, n)
    xx, yy = np.meshgrid(g, g)
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], axis=1), dtype=jnp.result_type(float))
    e = np.asarray(jax.jit(jax.vmap(lambda p: model.energy(params, {"x": p})))(pts), dtype=np.float64)
    logp = -(e - e.min())
    p = np.exp(logp).reshape(n, n)
    cell = (g[1] - g[0]) ** 2
    return g, p / (p.sum() * cell)


def main():
    x = np.loadtxt(ROOT / "examples" / "data" / "ring.csv", delimiter=",", skiprows=1)
    train, test = x[:1500], x[1500:]
    model = ebmppl.parse(RING_MLP, name="ring_mlp")
    init = model.init_params(0)

    s0 = samples(model, init)
    mmd0 = mmd(s0, test)
    print(f"initial model: MMD^2 to held-out data {mmd0:.4f} ({len(s0)} draws)")

    runs = {"fce": {}, "vi": {"q": "flow"}}
    results = {}
    for method, opts in runs.items():
        tick = time.perf_counter()
        res = fit(model, {"x": train}, method=method, steps=STEPS, batch_size=BATCH, lr=LR, params=init,
                  progress=False, **opts)
        s = samples(model, res.params)
        m = mmd(s, test)
        results[method] = (res, s, m)
        extra = f", log Z {res.logz:.3f}" if res.logz is not None else ""
        print(f"{method} ({', '.join(f'{k}={v}' for k, v in opts.items()) or 'defaults'}): {STEPS} steps in "
              f"{time.perf_counter() - tick:.0f} s ({res.stopped}){extra}; MMD^2 {mmd0:.4f} -> {m:.4f} "
              f"({m / mmd0:.1%} of the initial)")

    panels = [("data", None, None, None), ("initial model", init, s0, None)] + \
             [(f"{method}{' (q = flow)' if method == 'vi' else ''}", res.params, s, m)
              for method, (res, s, m) in results.items()]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.4 * len(panels), 4.4), dpi=110,
                             constrained_layout=True)
    for ax, (title, params, s, m) in zip(axes, panels):
        if params is None:
            ax.scatter(train[:, 0], train[:, 1], s=3, alpha=0.5, color="C0", label="training (1500)")
            ax.scatter(test[:, 0], test[:, 1], s=3, alpha=0.7, color="C1", label="held out (500)")
            ax.legend(loc="upper right", fontsize=8, markerscale=3, framealpha=0.9)
            ax.set_title("ring data", fontsize=11)
        else:
            g, p = density_on_grid(model, params)
            mesh = ax.pcolormesh(g, g, p, shading="auto", cmap="viridis")
            cb = fig.colorbar(mesh, ax=ax, shrink=0.8, pad=0.02)
            cb.set_label("density (normalized on the square)", fontsize=8)
            cb.ax.tick_params(labelsize=7)
            inside = np.all(np.abs(s) <= LIM, axis=1)
            ax.scatter(s[inside, 0], s[inside, 1], s=1.5, color="red", alpha=0.35, linewidths=0,
                       label=f"MALA draws ({inside.sum()} of {len(s)} in view)")
            ax.legend(loc="upper right", fontsize=7, markerscale=4, framealpha=0.9)
            if m is None:
                ax.set_title(f"{title}\nMMD² {mmd0:.3f}", fontsize=11)
            else:
                ax.set_title(f"{title}\nMMD² {mmd0:.3f} → {m:.4f}", fontsize=11)
        ax.set_xlim(-LIM, LIM)
        ax.set_ylim(-LIM, LIM)
        ax.set_aspect("equal")
        ax.set_xlabel("x[0]")
        ax.set_ylabel("x[1]")
    fig.suptitle(f"MLP energy fitted to the ring data ({STEPS} steps): heat map exp(−E), red dots MALA draws "
                 f"({SEEDS} runs of 8 chains × 100); MMD² of the draws to the held-out data (Gaussian kernel, "
                 f"bandwidth {BANDWIDTH})", fontsize=11)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT)
    plt.close(fig)
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
