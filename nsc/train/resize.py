"""What the decoder-resizing tools (:mod:`nsc.train.prune`, :mod:`nsc.train.widen`) share.

Both take a trained MSCACodec's weights, change the widths of its decoder's
MSR-CAM stages (``decoder_channels``) and write weights to fine-tune from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from torch import Tensor

from ..codec import build_model
from ..errors import NscError
from ..models.blocks import CausalConvTranspose1d, ConvDecoder
from ..registry import CodecSpec, get_spec
from ..weights import load_weights, save_weights

__all__ = ["decoder_stages", "load_trained", "one_line_errors", "parse_widths", "save_resized"]


def decoder_stages(decoder: ConvDecoder) -> list[tuple[int, int]]:
    """(transposed conv index, block index) in ``decoder.net`` per upsampling stage, bottleneck side first."""
    return [(i, i + 1) for i, m in enumerate(decoder.net) if isinstance(m, CausalConvTranspose1d)]


def load_trained(weights: Path, codec: str, output: Path):
    """(spec, model) from trained ``weights`` for ``codec``; refuses an existing ``output``.

    Raises:
        SystemExit: ``output`` exists (it is never overwritten).
        UnknownCodecError: unknown codec; WeightsError: missing or unreadable weights.
    """
    if output.exists():
        raise SystemExit(f"error: {output} exists; not overwriting it")
    spec = get_spec(codec)
    state, config = load_weights(weights, verify=False)
    model = build_model(spec, config.get("model", {}))
    model.load_state_dict(state)
    return spec, model


def save_resized(source, state: dict[str, Tensor], config: dict, spec: CodecSpec, output: Path, **meta: str) -> None:
    """Build the resized model from (state, config), check it loads strictly, write it to ``output``.

    ``meta`` goes into the safetensors header (e.g. ``widths``); a line says what changed.
    """
    model = build_model(spec, config)
    model.load_state_dict(state, strict=True)
    save_weights(model.state_dict(), {"codec": spec.name, "model": model.config}, output, **meta)
    print(f"wrote {output}: decoder {source.decoder.widths} -> {model.decoder.widths}, "
          f"{sum(p.numel() for p in model.parameters()):,} parameters")


def parse_widths(text: str) -> list[int]:
    """``"128,96,48,16,8"`` -> [128, 96, 48, 16, 8]. Raises ValueError for anything else."""
    try:
        return [int(w) for w in text.split(",")]
    except ValueError:
        raise ValueError(f"--widths must be comma-separated integers, got {text!r}") from None


@contextlib.contextmanager
def one_line_errors() -> Iterator[None]:
    """Turn the tools' expected errors (bad widths, codec, weights or files) into ``error: ...`` and exit status 1."""
    try:
        yield
    except (ValueError, OSError, NscError) as e:
        raise SystemExit(f"error: {e}") from None
