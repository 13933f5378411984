"""Vector quantizers written for nsc: one codebook implementation, three ways to stack it."""

from .codebook import EMACodebook, kmeans
from .grvq import GroupResidualVQ
from .rvq import QuantizerOutput, ResidualVQ, sample_n_codebooks
from .srvq import DualAttention, SplitResidualVQ

__all__ = [
    "EMACodebook",
    "kmeans",
    "QuantizerOutput",
    "ResidualVQ",
    "GroupResidualVQ",
    "SplitResidualVQ",
    "DualAttention",
    "sample_n_codebooks",
]
