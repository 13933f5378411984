"""Narrow a trained MSR-CAM decoder's high-rate stages, as a warm start for fine-tuning.

``python -m nsc.train.prune WEIGHTS CODEC --widths 192,96,48,16,8 --manifest M.csv -o OUT.safetensors``

Structured channel pruning: for every decoder stage whose width shrinks, the
channels kept are those with the largest first-order contribution, RMS
activation on real training speech x L2 norm of the weights that read them
(the usual "activation x weight" saliency of Molchanov et al. 2017, "Pruning
convolutional neural networks for resource efficient inference", sec. 2.2).
Every tensor that produces or reads a pruned channel space is sliced: the
transposed conv into the stage, the MSR-CAM's own channel spaces (S1, S2, P1,
P2, the attention's hidden width) and whatever reads the stage's output.
Encoder, quantizer, the bottleneck and stages that keep their width are copied
unchanged, so the codes (and ``.nsc`` payloads) of the pruned model equal the
source's; only the decoder's audio changes, and fine-tuning (``nsc train
--set run.init_from=OUT.safetensors``) wins back what the cut cost.

Why: on one CPU thread the decoder's 4 and 8 kHz stages take half of the
decode time (``benchmarks/profile_blocks.py``), while the low-rate stages,
where the codec's capacity matters most, are cheap.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from ..models.blocks import MSRCAM, decoder_widths
from .data import load_split
from .resize import decoder_stages, load_trained, one_line_errors, parse_widths, save_resized

__all__ = ["prune_decoder"]


def _rms_per_channel(acts: list[Tensor]) -> Tensor:
    """[C] RMS over batch and time of recorded [B, C, T] activations."""
    return torch.sqrt(sum((a.double() ** 2).mean(dim=(0, 2)) for a in acts) / len(acts)).float()


def _top(score: Tensor, k: int) -> Tensor:
    """Sorted indices of the ``k`` largest scores (kept in their original order)."""
    return torch.sort(torch.topk(score, k).indices).values


def prune_decoder(model, widths: list[int], audio: list[Tensor]) -> tuple[dict[str, Tensor], dict]:
    """Slice a trained MSR-CAM decoder down to per-stage ``widths``; returns (state_dict, model config).

    Args:
        model: a trained :class:`~nsc.models.vqcodec.WaveformVQCodec` whose decoder
            blocks are :class:`MSRCAM` (MSCACodec).
        widths: new decoder widths, bottleneck first (``len(strides) + 1``); each
            at most the current width, the bottleneck's unchanged.
        audio: float32 [1, 1, T] clips of real speech at the model's sample rate,
            for the activation statistics.

    Returns:
        The pruned model's full state dict (encoder and quantizer unchanged) and
        its config (``decoder_channels`` set to ``widths``).

    Raises:
        ValueError: widths that grow a stage, change the bottleneck, or a
            decoder whose blocks are not MSR-CAM.
    """
    dec = model.decoder
    old = dec.widths
    widths = decoder_widths(list(widths), len(old) - 1)
    if widths[0] != old[0] or any(w > o for w, o in zip(widths, old)):
        raise ValueError(f"widths {widths} must keep the bottleneck ({old[0]}) and not exceed {old}")
    stages = decoder_stages(dec)
    if not all(isinstance(dec.net[b], MSRCAM) for _, b in stages):
        raise ValueError("only MSR-CAM decoders can be pruned")

    # activations: each block's input m, its S1/S2/P1/P2 and attention hidden, its output Z
    acts: dict[str, list[Tensor]] = {}
    hooks = []

    def record(name: str):
        def hook(_mod, _inp, out):
            acts.setdefault(name, []).append(out.detach())
        return hook

    for si, (_, b) in enumerate(stages):
        blk = dec.net[b]
        hooks.append(blk.register_forward_pre_hook(lambda _m, inp, si=si: acts.setdefault(f"{si}.m", []).append(inp[0].detach())))
        hooks.append(blk.register_forward_hook(record(f"{si}.z")))
        for part in ("conv_s1", "conv_s2", "conv_p1", "conv_p2"):
            hooks.append(getattr(blk, part).register_forward_hook(record(f"{si}.{part}")))
        hooks.append(blk.global_ctx[1].register_forward_hook(record(f"{si}.g")))
        hooks.append(blk.local_ctx[1].register_forward_hook(record(f"{si}.l")))
    model.eval()
    with torch.inference_mode():
        for x in audio:
            model(x)
    for h in hooks:
        h.remove()
    # RMS of each conv's output before its ReLU: a proxy for what the ReLU passes on
    rms = {k: _rms_per_channel(v) for k, v in acts.items()}

    def col_norm(w: Tensor, idx: slice | Tensor) -> Tensor:
        """L2 norm per input channel of conv weight [C_out, C_in, k] over the selected inputs."""
        return w[:, idx].pow(2).sum(dim=(0, 2)).sqrt()

    state = {k: v.clone() for k, v in model.state_dict().items()}
    prefix = "decoder.net."
    keep_prev: Tensor | None = None  # kept channels of the previous stage's space
    for si, (t, b) in enumerate(stages):
        c, c_new = old[si + 1], widths[si + 1]
        blk = dec.net[b]
        reader = dec.net[stages[si + 1][0]].weight.transpose(0, 1) if si + 1 < len(stages) else dec.net[-1].weight
        # the stage's channel space, read by S1/S2 (as m) and by the next stage (as Z)
        score = (rms[f"{si}.m"] * (col_norm(blk.conv_s1.weight, slice(None)) + col_norm(blk.conv_s2.weight, slice(None)))
                 + rms[f"{si}.z"] * col_norm(reader, slice(None)))
        keep = _top(score, c_new) if c_new < c else torch.arange(c)
        tw = f"{prefix}{t}."
        w = state[tw + "weight"]  # ConvTranspose1d: [C_in, C_out, k]
        if keep_prev is not None:
            w = w[keep_prev]
        state[tw + "weight"], state[tw + "bias"] = w[:, keep].clone(), state[tw + "bias"][keep].clone()
        keep_prev = keep
        if c_new == c:
            continue
        # MSR-CAM internals (eq. 1-10): S1, S2 [c]; P1, P2 [2c]; attention hidden [MSRCAM.hidden_width(c)]
        p1w, p2w, fw = blk.conv_p1.weight, blk.conv_p2.weight, blk.fuse.weight
        k_s1 = _top(rms[f"{si}.conv_s1"] * (col_norm(p1w, slice(0, c)) + col_norm(p2w, slice(c, 2 * c))), c_new)
        k_s2 = _top(rms[f"{si}.conv_s2"] * (col_norm(p1w, slice(c, 2 * c)) + col_norm(p2w, slice(0, c))), c_new)
        k_p1 = _top(rms[f"{si}.conv_p1"] * col_norm(fw, slice(0, 2 * c)), 2 * c_new)
        k_p2 = _top(rms[f"{si}.conv_p2"] * col_norm(fw, slice(2 * c, 4 * c)), 2 * c_new)
        h_new = MSRCAM.hidden_width(c_new)
        k_g = _top(rms[f"{si}.g"] * col_norm(blk.global_ctx[2].weight, slice(None)), h_new)
        k_l = _top(rms[f"{si}.l"] * col_norm(blk.local_ctx[2].weight, slice(None)), h_new)
        bp = f"{prefix}{b}."
        picked = {"m": keep, "s1": k_s1, "s2": k_s2, "p1": k_p1, "p2": k_p2, "hg": k_g, "hl": k_l,
                  "s1s2": torch.cat([k_s1, c + k_s2]), "s2s1": torch.cat([k_s2, c + k_s1]),
                  "p1p2": torch.cat([k_p1, 2 * c + k_p2])}
        for name, spaces in MSRCAM.CHANNEL_SPACES.items():
            rows = picked[spaces[0]]
            params = ("weight", "bias") if len(spaces) > 1 else ("weight", "bias", "running_mean", "running_var")
            for p in params:
                v = state[f"{bp}{name}.{p}"][rows]
                if p == "weight" and len(spaces) > 1:
                    v = v[:, picked[spaces[1]]]
                state[f"{bp}{name}.{p}"] = v.clone()
    out = f"{prefix}{len(dec.net) - 1}.weight"
    state[out] = state[out][:, keep_prev].clone()
    config = {**model.config, "decoder_channels": widths}
    return state, config


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("weights", type=Path, help="trained generator weights (.safetensors)")
    p.add_argument("codec")
    p.add_argument("--widths", required=True, help="new decoder widths, bottleneck first, e.g. 192,96,48,16,8")
    p.add_argument("--manifest", type=Path, required=True, help="speech manifest; its train split feeds the statistics")
    p.add_argument("--files", type=int, default=32, help="training files for the activation statistics")
    p.add_argument("-o", "--output", type=Path, required=True)
    a = p.parse_args()
    with one_line_errors():
        widths = parse_widths(a.widths)
        spec, model = load_trained(a.weights, a.codec, a.output)
        train = load_split(a.manifest, "train", spec.sample_rate)
        picked = train[:: max(1, len(train) // a.files)][: a.files]  # spread over sources and speakers
        clips = [torch.from_numpy(u.audio[: 4 * spec.sample_rate]).view(1, 1, -1) for u in picked]
        clips = [x[..., : x.shape[-1] // spec.hop_length * spec.hop_length] for x in clips]
        state, config = prune_decoder(model, widths, clips)
        save_resized(model, state, config, spec, a.output, pruned_from=str(a.weights), widths=a.widths)


if __name__ == "__main__":
    main()
