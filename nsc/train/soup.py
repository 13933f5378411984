"""Average the weights of several fine-tunes of one model into one (a uniform model soup).

``python -m nsc.train.soup CODEC RUN_A/last.ckpt RUN_B/last.ckpt [...] -o OUT.safetensors [--base-step N]``

Fine-tunes that start from the same trained weights and differ only in their random
seed (crops, augmentation, quantizer dropout) end in one basin of the loss, and the
mean of their weights is often better than either of them: Wortsman et al., "Model
soups: averaging weights of multiple fine-tuned models improves accuracy without
increasing inference time", ICML 2022 (the "uniform soup" of section 3). The shipped
mscacodec-nb weights are such soups, of two rounds each (steps 56056 and 59856; model
card and README): each scored at least as well as the better of its two runs, at no cost
at run time.

Every floating tensor is averaged in float32, parameters and buffers alike (BatchNorm
running statistics, the RVQ codebooks and their EMA statistics); integer buffers
(counters) are taken from the first model. All inputs must have the same codec, model
config and tensor names and shapes. Only a soup of fine-tunes of one starting point
makes sense: independently trained models do not share a basin (nor codebook order).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import Tensor

from ..weights import save_weights
from .export import read_generator
from .resize import one_line_errors

__all__ = ["average_states", "main"]


def average_states(states: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The uniform average of state dicts with the same names and shapes (Wortsman et al. 2022, sec. 3).

    Floating tensors are averaged in float32 and returned as float32; integer tensors are
    copied from ``states[0]``.

    Raises:
        ValueError: fewer than two states, or names or shapes that differ.
    """
    if len(states) < 2:
        raise ValueError(f"a soup needs at least two models, got {len(states)}")
    first = states[0]
    for i, s in enumerate(states[1:], start=2):
        if s.keys() != first.keys():
            raise ValueError(f"model {i} has other tensors than model 1: {sorted(s.keys() ^ first.keys())[:3]}")
        shapes = [k for k in first if s[k].shape != first[k].shape]
        if shapes:
            raise ValueError(f"model {i} differs from model 1 in the shape of {shapes[0]}")
    return {
        k: torch.stack([s[k].float() for s in states]).mean(0) if t.is_floating_point() else t.clone()
        for k, t in first.items()
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("codec")
    p.add_argument("models", type=Path, nargs="+", help="training checkpoints (.ckpt) or weights (.safetensors)")
    p.add_argument("-o", "--output", type=Path, required=True)
    p.add_argument("--base-step", type=int, default=0,
                   help="step of the weights the runs started from; the soup's step is this plus the longest "
                        "run's (a checkpoint counts its run's steps; a weights file's step is taken as it is, "
                        "so leave this at 0 for those that already count from the start)")
    a = p.parse_args()
    with one_line_errors():
        if a.output.exists():
            raise ValueError(f"{a.output} exists; not overwriting it")
        loaded = [read_generator(m) for m in a.models]
        config = loaded[0][1]
        if config.get("codec") != a.codec or any(c != config for _, c, _ in loaded):
            raise ValueError(f"the models are not all {a.codec} with one model config")
        state = average_states([s for s, _, _ in loaded])
        step = a.base_step + max(int(meta.get("step", 0)) for _, _, meta in loaded)
        save_weights(state, config, a.output, step=str(step), soup_of=", ".join(map(str, a.models)))
        print(f"wrote {a.output}: uniform soup of {len(loaded)} models, step {step}")


if __name__ == "__main__":
    main()
