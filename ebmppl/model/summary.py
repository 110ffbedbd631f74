"""A plain-text summary of a model, as printed by `ebmppl check`."""

from __future__ import annotations

import jax
import numpy as np

from ..dsl import ast as A
from .spec import Model, _fmt, tree_str


def _dist_str(f) -> str:
    ex = _fmt
    args = [ex(a) for a in f.dist.args] + [f"{k.name}={ex(k.value)}" for k in f.dist.kwargs]
    tgt = f.target_name + ("[...]" if isinstance(f.target, A.Index) else "")
    return f"{tgt} ~ {f.dist.name}({', '.join(args)})"


def summary(model: Model, lowered=None) -> str:
    """Describe vars, latents, params, consts, factors and the free energy."""
    low = lowered
    lines = [f"model {model.name}  (fingerprint {model.fingerprint})"]

    def shape_of(s):
        if low is not None and not low.placeholders:
            return f" = {list(low.shapes[s.name])}" if s.shape and any(not isinstance(d, int) for d in s.shape) else ""
        return ""

    for role, title in (("var", "vars"), ("latent", "latents")):
        specs = [s for s in model.specs if s.role == role]
        lines.append(f"  {title}:" + ("" if specs else " none"))
        for s in specs:
            lines.append(f"    {s.name} : {s.type_str()}{shape_of(s)}")
    params = model.params
    if params:
        total = None
        if low is not None and not low.placeholders:
            shapes = jax.eval_shape(lambda: low.init_params(0))
            counts = {k: int(sum(np.prod(l.shape, dtype=int) for l in jax.tree_util.tree_leaves(v)))
                      for k, v in shapes.items()}
            total = sum(counts.values())
        lines.append("  params:" + (f" {total} values in all" if total is not None else ""))
        for s in params:
            n = f"  ({counts[s.name]} values)" if total is not None else ""
            init = ""
            if s.init is not None:
                init = " = " + _fmt(s.init) \
                    if isinstance(s.init, A.Expr) else f" = {s.init}"
            elif s.init_dist is not None:
                init = f" ~ {s.init_dist.name}(...)"
            lines.append(f"    {s.name} : {s.type_str()}{init}{n}")
    else:
        lines.append("  params: none")
    consts = model.consts
    if consts:
        lines.append("  consts:")
        for s in consts:
            if s.conditioned:
                val = "  (conditioned on a value)"
            elif s.name in model.const_values:
                v = np.asarray(model.const_values[s.name])
                val = f" = {v.item()}" if v.ndim == 0 else f"  (bound, shape {list(v.shape)})"
            elif s.init is not None:
                val = "  (default)"
            else:
                val = "  (unbound: pass --data)"
            cond = ""
            lines.append(f"    {s.name} : {s.type_str()}{val}{cond}")
    lines.append("  factors:")
    width = max(len(f.name) for f in model.factors)
    for f in model.factors:
        where = f"line {f.span.line}" if f.span is not None and f.span.source.name[:1] != "<" else "python"
        if f.kind == "density":
            what = f"normalized   {_dist_str(f)}" if f.normalized else f"density      {_dist_str(f)}"
        else:
            what = "unnormalized energy"
        lines.append(f"    {f.name:<{width}}  {what}   ({where})")
    lines.append(f"  model = {tree_str(model.effective_tree)}")
    lines.extend(_component_logz_lines(model))
    if low is not None and not low.placeholders:
        method, why = low.free_energy_plan()
        lines.append(f"  free energy: {why}")
    elif model.latents:
        lines.append("  free energy: decided once the consts are bound (--consts)")
    else:
        lines.append("  free energy: no latents: the free energy is the energy")
    for w in model.warnings:
        lines.append(f"  warning: {w}")
    return "\n".join(lines)


def _component_logz_lines(model: Model) -> list[str]:
    """Each mixture component's log Z and where it came from (supplied, normalized, exact, quadrature, ais)."""
    from .compose import component_logz, mixture_nodes
    mixtures = mixture_nodes(model.effective_tree)
    if not mixtures:
        return []
    zs = iter(component_logz(model))
    lines = ["  mixture components' log Z (p_k = exp(-E_k - log Z_k)):"]
    for node in mixtures:
        for child in node.children:
            z = next(zs)
            if z.method == "normalized":
                how = "normalized density"
            elif z.method == "supplied":
                how = "supplied"
            else:
                how = f"{z.method} +/- {z.stderr:.2g}" if z.stderr else z.method
            lines.append(f"    {tree_str(child)}: {z.value:.6g}  ({how})")
    return lines


# ------------------------------------------------------------------ fitted params
FULL_MAX = 8  # a param with at most this many elements is shown in full; a larger one by its moments


def _flat_params(params: dict, prefix: str = "") -> dict:
    """Nested params (an mlp's weights are a dict) flattened to ``name/...`` keys, in their order."""
    out = {}
    for k, v in params.items():
        if isinstance(v, dict):
            out.update(_flat_params(v, f"{prefix}{k}/"))
        elif isinstance(v, (list, tuple)):
            out.update(_flat_params({str(i): x for i, x in enumerate(v)}, f"{prefix}{k}/"))
        else:
            out[f"{prefix}{k}"] = np.asarray(v)
    return out


def param_values(params: dict) -> dict:
    """Fitted params as plain JSON values: a param of at most :data:`FULL_MAX` elements in full (a number or
    nested lists), a larger one as ``{"shape", "mean", "sd", "min", "max"}``. Keys are ``name`` or, inside an
    mlp, ``name/...``.

        >>> param_values({"s": np.float32(0.5), "w": np.zeros((3, 4))})["w"]["shape"]
        [3, 4]
    """
    out = {}
    for k, a in _flat_params(params).items():
        if a.size <= FULL_MAX:
            out[k] = a.tolist() if a.dtype.kind in "biuf" else str(a.tolist())
        else:
            f = a.astype(np.float64)
            out[k] = {"shape": list(a.shape), "mean": float(f.mean()), "sd": float(f.std()), "min": float(f.min()),
                      "max": float(f.max())}
    return out


def _num(v) -> str:
    return f"{v:.6g}" if isinstance(v, (int, float)) else "[" + ", ".join(_num(x) for x in v) + "]"


def param_lines(params: dict) -> list[str]:
    """One line a param: ``name  value`` (in full, 6 significant digits) or ``name  shape [..]  mean ..  sd ..
    min ..  max ..``."""
    vals = param_values(params)
    if not vals:
        return []
    width = max(len(k) for k in vals)
    lines = []
    for k, v in vals.items():
        if isinstance(v, dict):
            text = (f"shape {v['shape']}  mean {v['mean']:.4g}  sd {v['sd']:.4g}  min {v['min']:.4g}  "
                    f"max {v['max']:.4g}")
        else:
            text = _num(v) if not isinstance(v, str) else v
        lines.append(f"{k:<{width}}  {text}")
    return lines


def param_table(params: dict, indent: str = "  ") -> str:
    """The fitted params as printed after a fit (see :func:`param_lines`), a heading then one line a param."""
    return "\n".join(["params:"] + [indent + line for line in param_lines(params)])


def summary_html(model: Model) -> str:
    """A model as HTML (a notebook's display): its :func:`summary` in a ``<pre>`` block."""
    import html
    text = model.summary()
    return f"<div><b>Model</b> <code>{html.escape(model.name)}</code><pre>{html.escape(text)}</pre></div>"
