"""Training reports: how a fit went, and whether the fitted model's samples look like the data.

:func:`fit_report` takes a model, the :class:`~ebmppl.FitResult` of fitting it and the data,
and measures

- the training curves: loss, validation loss, gradient norm, and the method's own figures
  (``cd``/``pcd``: the positive- and negative-phase energies and their gap);
- a **sample-vs-data check** for every method: draws from the fitted model (block Gibbs for
  discrete models, MALA otherwise; ``pcd`` continues its persistent chains), compared with the
  data by the **MMD** with a Gaussian kernel (median-heuristic bandwidth) and its permutation
  p-value (:func:`mmd_test`), and per-dimension means and standard deviations;
- **R-hat and bulk ESS** per dimension of those chains (ArviZ, through :mod:`ebmppl.diagnostics`).

With ``out_dir`` it writes ``fit-report.md`` and PNG figures there (atomically). ``ebmppl fit`` calls
it after every fit (``--no-report`` skips it).

The modules: :mod:`.fit` (:func:`fit_report`), :mod:`.mmd` (the two-sample test), :mod:`.values` (what a
report holds) and :mod:`.markdown` (``fit-report.md``); the figures are drawn by :mod:`ebmppl.plots`.

    >>> import ebmppl
    >>> from ebmppl.report import fit_report
    >>> ring = ebmppl.load("examples/ring.ebm")
    >>> res = ebmppl.fit(ring, "examples/data/ring.csv", method="ssm", steps=300, lr=0.05, progress=False)
    >>> rep = fit_report(ring, res, "examples/data/ring.csv", "runs/ring")   # doctest: +SKIP
    >>> rep.p_value > 0.01                                                  # doctest: +SKIP
    True
"""

from .fit import fit_report
from .mmd import MMDTest, mmd_test
from .values import Chains, Moments, Report

__all__ = ["fit_report", "mmd_test", "MMDTest", "Report", "Moments", "Chains"]
