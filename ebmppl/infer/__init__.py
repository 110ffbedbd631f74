"""Sampling: NumPyro's NUTS/HMC and ebmppl's MALA, ULA, random-walk Metropolis, block Gibbs and
Gibbs-with-gradients kernels, returning ArviZ InferenceData."""

from .options import KernelOptions, Layout
from .sample import SAMPLERS, choose_sampler, sample

__all__ = ["sample", "choose_sampler", "SAMPLERS", "Layout", "KernelOptions"]
