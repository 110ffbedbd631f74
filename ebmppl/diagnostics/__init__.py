"""Diagnostics of MCMC draws, in three modules:

- :mod:`.idata`: ``arviz.InferenceData`` from draws (and more groups on it), netCDF files, ArviZ's summaries
  (R-hat, ESS, MCSE) and PSIS-LOO. The only module that imports ArviZ: moving to a new ArviZ API is a
  change to it alone.
- :mod:`.checks`: :func:`diagnose`, the summaries turned into plain-words warnings with what to try.
- :mod:`.folder`: reading a samples file, the elements worth a figure and the diagnosis folder
  (:func:`write_report`); the figures themselves are drawn by :mod:`ebmppl.plots`.
"""

from __future__ import annotations

from .checks import (MAX_TREE_DEPTH, SWAP_MIN, TARGET_ACCEPT, WARNING_KINDS, Diagnosis, DiagnosticWarning,
                     check_draws, diagnose, precision)
from .folder import (FIGURES, SOURCE_ATTRS, consts_of, idata_draws, pick_elements, plot_figure, read_samples,
                     record_sources, scalar_names, write_report)
from .idata import (STAT_DIMS, add_groups, ess, from_netcdf, loo, loo_text, mcse, rhat, short_summary, summary,
                    to_inference_data, to_netcdf)

__all__ = ["MAX_TREE_DEPTH", "SWAP_MIN", "TARGET_ACCEPT", "WARNING_KINDS", "Diagnosis", "DiagnosticWarning",
           "check_draws", "diagnose", "precision", "FIGURES", "SOURCE_ATTRS", "consts_of", "idata_draws",
           "pick_elements", "plot_figure", "read_samples", "record_sources", "scalar_names", "write_report",
           "STAT_DIMS", "add_groups", "ess", "from_netcdf", "loo", "loo_text", "mcse", "rhat", "short_summary",
           "summary", "to_inference_data", "to_netcdf"]
