"""Where inference time goes: share of encode + decode time per top-level block, one CPU thread.

    python benchmarks/profile_blocks.py [--codecs mscacodec-nb,...] [--seconds 30] [--markdown OUT.md]

Times every direct child of the encoder's and decoder's layer stack (input
conv, each MSR-CAM / MRF / residual block, each strided or transposed conv,
the TCGRU bottleneck) and the quantizer with forward hooks, on one file of
speech-like noise at the codec's default bitrate, after one warm-up pass.
It times the model as encoding and decoding run it: with its MSR-CAM blocks
fused for inference (``Codec.inference_model``, :mod:`nsc.models.fuse`),
greedy quantizer search.
Prints encode and decode speed (x real time) and the blocks that take the
most time, with the rate they run at (samples or frames per second): the
answer to "what limits the speed".
"""

from __future__ import annotations

import argparse
import collections
import time
from pathlib import Path


def profile(codec_name: str, seconds: float = 30.0, top: int = 8) -> dict:
    """Profile one codec; returns ``{"encode_xrt", "decode_xrt", "blocks": [(name, share, rate_hz), ...]}``."""
    import torch

    from nsc.codec import load_codec
    from nsc.registry import headline_n_codebooks

    torch.set_num_threads(1)
    codec = load_codec(codec_name)
    model = codec.inference_model
    sr = codec.spec.sample_rate
    n = headline_n_codebooks(codec.spec)[0]
    x = torch.randn(1, 1, int(seconds * sr), generator=torch.Generator().manual_seed(0)) * 0.1
    spent: dict[str, float] = collections.defaultdict(float)
    rates: dict[str, float] = {}
    handles = []

    def watch(module, name: str) -> None:
        def pre(mod, inp):
            mod._nsc_t0 = time.perf_counter()

        def post(mod, inp, out):
            spent[name] += time.perf_counter() - mod._nsc_t0
            if isinstance(out, torch.Tensor) and out.dim() == 3:
                rates[name] = out.shape[-1] / seconds

        handles.append(module.register_forward_pre_hook(pre))
        handles.append(module.register_forward_hook(post))

    for part in ("encoder", "decoder"):
        stack = getattr(model, part)
        children = list(stack.children())
        layers = children[0] if len(children) == 1 else stack
        for i, layer in enumerate(layers.children()):
            if any(True for _ in layer.parameters()):
                watch(layer, f"{part}[{i}] {type(layer).__name__}")
    with torch.no_grad():
        for _ in range(2):  # warm-up, then the timed pass
            spent.clear()
            t0 = time.perf_counter()
            codes = model.encode(x, n)
            t1 = time.perf_counter()
            model.decode(codes)
            t2 = time.perf_counter()
    for h in handles:
        h.remove()
    total = (t2 - t0) or 1e-9
    blocks = sorted(((k, v / total, rates.get(k, float("nan"))) for k, v in spent.items()), key=lambda b: -b[1])
    return {"encode_xrt": seconds / (t1 - t0), "decode_xrt": seconds / (t2 - t1), "blocks": blocks[:top],
            "bitrate_kbps": codec.spec.bitrate_kbps(n)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--codecs", default="mscacodec-nb,mscacodec-wb")
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--top", type=int, default=12)
    p.add_argument("--markdown", type=Path)
    a = p.parse_args()
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _machine import describe

    lines = [f"Machine: {describe(1)}", ""]
    for name in [c.strip() for c in a.codecs.split(",") if c.strip()]:
        r = profile(name, a.seconds, a.top)
        lines += [f"#### {name} at {r['bitrate_kbps']:g} kbit/s: encode {r['encode_xrt']:.0f}x, "
                  f"decode {r['decode_xrt']:.0f}x real time (1 thread, {a.seconds:g} s)", "",
                  "| block | share of encode + decode time | output rate (per s) |", "|---|---:|---:|"]
        lines += [f"| {b} | {share * 100:.1f} % | {rate:,.0f} |" for b, share, rate in r["blocks"]]
        lines.append("")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        a.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
