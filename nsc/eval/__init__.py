"""``nsc eval``: quality, exact bitrate and speed of nsc codecs against Codec2 and Opus.

Modules: :mod:`~nsc.eval.metrics` (PESQ, STOI, ViSQOL, log-spectral distance,
bitrates, codebook usage), :mod:`~nsc.eval.align` (delay estimation),
:mod:`~nsc.eval.baselines` (c2enc/c2dec, opusenc/opusdec), :mod:`~nsc.eval.runner`
(:func:`evaluate`) and :mod:`~nsc.eval.report` (CSV, Markdown, JSON, plots).
"""

from __future__ import annotations

from .runner import EvalResult, FileScore, System, SystemSummary, evaluate, find_audio, parse_baselines

__all__ = ["evaluate", "EvalResult", "FileScore", "SystemSummary", "System", "find_audio", "parse_baselines"]
