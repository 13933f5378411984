"""Widen a trained MSR-CAM decoder's stages without changing what it computes, as a warm start.

``python -m nsc.train.widen WEIGHTS CODEC --widths 128,96,48,16,8 -o OUT.safetensors``

The inverse of :mod:`nsc.train.prune`: a function-preserving widening in the spirit of
Net2Net (Chen, Goodfellow & Shlens, ICLR 2016), with the new channels' outgoing weights
set to zero rather than copied from old channels. Every channel space of a widened stage
(the transposed conv into it, the MSR-CAM's S1, S2, P1, P2 and attention widths, and
whatever reads the stage) gains channels that compute from all inputs with freshly
initialised weights, but no old channel reads them (those weights are zero). So the
widened decoder gives the source's audio (float32, up to rounding), the codes are
untouched, and training starts from the trained model's quality: the weights that read
the new channels get gradients at once (their inputs are non-zero) and grow from zero.

Why: the decoder turns a few hundred bits per second back into a waveform and is where
a small codec runs out of capacity first (``nsc.models.vqcodec``). mscacodec-nb's decoder
was once widened from 8 to 12 channels per block and retrained from random weights
(model card): its validation PESQ rose by about 0.1 in the 5000 steps after. Widening in
place keeps a long-trained model's decoder instead of starting that one over.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from ..codec import build_model
from ..models.blocks import MSRCAM, decoder_widths
from .resize import decoder_stages, load_trained, one_line_errors, parse_widths, save_resized

__all__ = ["widen_decoder"]


def _positions(space: str, c: int, c_new: int) -> Tensor:
    """Where the old block's channels of ``space`` (:attr:`MSRCAM.CHANNEL_SPACES`) sit in the wider one.

    Returns int64 [old size of the space]; a concatenation's second part moves up by the growth.
    """
    a = torch.arange
    one = {"m": a(c), "s1": a(c), "s2": a(c), "p1": a(2 * c), "p2": a(2 * c),
           "hg": a(MSRCAM.hidden_width(c)), "hl": a(MSRCAM.hidden_width(c))}
    if space in one:
        return one[space]
    half, half_new = (c, c_new) if space in ("s1s2", "s2s1") else (2 * c, 2 * c_new)  # or p1p2
    return torch.cat([a(half), half_new + a(half)])


def _place(new: Tensor, old: Tensor, rows: Tensor, cols: Tensor | None) -> Tensor:
    """Copy ``old`` into ``new`` at (rows, cols); old rows read nothing from new columns."""
    out = new.clone()
    if cols is None:
        out[rows] = old
        return out
    new_cols = torch.ones(out.shape[1], dtype=torch.bool)
    new_cols[cols] = False
    out[rows.unsqueeze(1), new_cols.nonzero().squeeze(1).unsqueeze(0)] = 0.0
    out[rows.unsqueeze(1), cols.unsqueeze(0)] = old
    return out


def widen_decoder(model, spec, widths: list[int], seed: int = 0) -> tuple[dict[str, Tensor], dict]:
    """Widen a trained MSR-CAM decoder to per-stage ``widths``; returns (state_dict, model config).

    Args:
        model: a trained :class:`~nsc.models.vqcodec.WaveformVQCodec` whose decoder blocks are
            :class:`~nsc.models.blocks.MSRCAM` (MSCACodec).
        spec: its registry entry (:func:`nsc.registry.get_spec`).
        widths: new decoder widths, bottleneck first (``len(strides) + 1``); each at least the
            current width, the bottleneck's (the TCGRU's) unchanged.
        seed: for the new channels' initial weights (:func:`~nsc.models.blocks.init_weights`).

    Returns:
        The widened model's full state dict, whose encoder, quantizer and bottleneck equal the
        source's and whose decoder computes the same audio (float32, up to rounding), and its
        config (``decoder_channels`` set to ``widths``).

    Raises:
        ValueError: widths that narrow a stage or change the bottleneck, or a decoder whose
            blocks are not MSR-CAM.
    """
    dec = model.decoder
    old = dec.widths
    widths = decoder_widths(list(widths), len(old) - 1)
    if widths[0] != old[0] or any(w < o for w, o in zip(widths, old)):
        raise ValueError(f"widths {widths} must keep the bottleneck ({old[0]}) and not narrow {old}")
    stages = decoder_stages(dec)
    if not all(isinstance(dec.net[b], MSRCAM) for _, b in stages):
        raise ValueError("only MSR-CAM decoders can be widened")
    config = {**model.config, "decoder_channels": widths}
    with torch.random.fork_rng():  # the caller's random state is left as it was
        torch.manual_seed(seed)
        wide = build_model(spec, config)
    state = wide.state_dict()
    src = model.state_dict()
    for k, v in src.items():  # encoder, quantizer, bottleneck, and every tensor whose shape holds
        if state[k].shape == v.shape:
            state[k] = v.clone()
    prefix = "decoder.net."
    for si, (t, b) in enumerate(stages):
        c_in, c_in_new = old[si], widths[si]
        c, c_new = old[si + 1], widths[si + 1]
        if (c_in, c) == (c_in_new, c_new):
            continue
        tw = f"{prefix}{t}."  # ConvTranspose1d weight [C_in, C_out, k]: place on the transposed view
        w = _place(state[tw + "weight"].transpose(0, 1), src[tw + "weight"].transpose(0, 1),
                   torch.arange(c), torch.arange(c_in))
        state[tw + "weight"] = w.transpose(0, 1).contiguous()
        state[tw + "bias"] = _place(state[tw + "bias"], src[tw + "bias"], torch.arange(c), None)
        if c == c_new:
            continue
        bp = f"{prefix}{b}."
        for name, spaces in MSRCAM.CHANNEL_SPACES.items():
            rows = _positions(spaces[0], c, c_new)
            cols = _positions(spaces[1], c, c_new) if len(spaces) > 1 else None
            params = ("weight", "bias") if cols is not None else ("weight", "bias", "running_mean", "running_var")
            for p in params:
                key = f"{bp}{name}.{p}"
                state[key] = _place(state[key], src[key], rows, cols if p == "weight" else None)
    out = f"{prefix}{len(dec.net) - 1}.weight"  # output conv [1, C_last, 7]
    state[out] = _place(state[out], src[out], torch.arange(1), torch.arange(old[-1]))
    return state, wide.config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="trained generator weights (.safetensors)")
    p.add_argument("codec")
    p.add_argument("--widths", required=True, help="new decoder widths, bottleneck first, e.g. 128,96,48,16,8")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output", type=Path, required=True)
    a = p.parse_args()
    with one_line_errors():
        spec, model = load_trained(a.weights, a.codec, a.output)
        state, config = widen_decoder(model, spec, parse_widths(a.widths), a.seed)
        save_resized(model, state, config, spec, a.output, widened_from=str(a.weights), widths=a.widths)


if __name__ == "__main__":
    main()
