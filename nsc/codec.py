"""A loaded codec: registry spec + model + weights fingerprint, ready for inference.

This is the object the engine, the Python API and the CLI use; it hides device
placement and ``torch.no_grad``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace

import torch
from torch import Tensor

from .errors import NscError, WeightsError
from .models.base import CodecModel
from .registry import CodecSpec, get_spec
from .weights import fingerprint, load_weights, weights_path

__all__ = ["Codec", "load_codec", "build_model"]


def build_model(spec: CodecSpec, config: dict | None = None) -> CodecModel:
    """Instantiate the model of ``spec`` from its builder, with an optional config dict."""
    module_name, func_name = spec.builder.split(":")
    builder = getattr(importlib.import_module(module_name), func_name)
    return builder(spec, **(config or {}))


@dataclass
class Codec:
    """A codec ready to run.

    Attributes:
        spec: its registry entry.
        model: the model in eval mode on ``device``.
        fingerprint: 8 bytes identifying the weights (written to and checked against `.nsc` headers).
        device: torch device the model runs on.
        trained: False for a randomly initialised model (tests, smoke runs).
        beam_width: partial codes the quantizer search keeps per frame when encoding
            (1: greedy); :func:`load_codec` sets the codec's default (``spec.beam_width``).
        precision: the decoder's arithmetic, one of :data:`nsc.models.precision.PRECISIONS`:
            ``"auto"`` (bfloat16 for its MSR-CAM blocks on a CPU with native bfloat16, else
            float32), ``"float32"`` or ``"bfloat16"``. Encoding is float32 whatever it is.

    :meth:`encode` and :meth:`decode` run :attr:`inference_model`, a copy of
    ``model`` with its blocks fused for speed (:mod:`nsc.models.fuse`) and its
    decoder's MSR-CAM blocks in ``precision`` (:mod:`nsc.models.precision`); ``model``
    stays as trained, for its state dict and the training tools.
    """

    spec: CodecSpec
    model: CodecModel
    fingerprint: bytes
    device: torch.device
    trained: bool = True
    beam_width: int = 1
    precision: str = "auto"
    _inference: CodecModel | None = field(default=None, repr=False, compare=False)

    @property
    def inference_model(self) -> CodecModel:
        """``model`` with its MSR-CAM blocks fused and its decoder in :attr:`decoder_dtype`; built on first use."""
        if self._inference is None:
            from .models.fuse import fuse_for_inference
            from .models.precision import lower_precision

            model = fuse_for_inference(self.model)
            lower_precision(model, self.decoder_dtype)
            self._inference = model
        return self._inference

    @property
    def decoder_dtype(self) -> torch.dtype:
        """The dtype the decoder's MSR-CAM blocks compute in: :attr:`precision` resolved on this machine."""
        from .models.precision import resolve_precision

        return resolve_precision(self.precision, self.device)

    @property
    def sample_rate(self) -> int:
        """Codec sample rate (Hz)."""
        return self.spec.sample_rate

    @property
    def hop_length(self) -> int:
        """Samples per frame."""
        return self.spec.hop_length

    def with_beam_width(self, beam_width: int) -> "Codec":
        """This codec (same model, shared) encoding with ``beam_width`` partial codes kept per frame.

        Raises:
            NscError: ``beam_width`` < 1, or > 1 for a quantizer that searches greedily only (SRVQ).
        """
        if not isinstance(beam_width, int) or beam_width < 1:
            raise NscError(f"beam width must be a whole number of at least 1, got {beam_width!r}")
        if beam_width > 1 and not getattr(getattr(self.model, "quantizer", None), "supports_beam_search", False):
            raise NscError(f"{self.spec.name}'s quantizer searches greedily only; its beam width must be 1")
        return replace(self, beam_width=beam_width)

    def with_precision(self, precision: str) -> "Codec":
        """This codec (same trained model, shared) decoding in ``precision`` (see :attr:`precision`).

        Raises:
            NscError: ``precision`` is not one of :data:`nsc.models.precision.PRECISIONS`.
        """
        from .models.precision import check_precision

        if check_precision(precision) == self.precision:
            return self
        return replace(self, precision=precision, _inference=None)

    @torch.inference_mode()
    def encode(self, audio: Tensor, n_codebooks: int) -> Tensor:
        """float32 [B, 1, T] at ``sample_rate`` -> int64 [B, n_codebooks, ceil(T / hop_length)] on CPU.

        The quantizer search keeps ``beam_width`` partial codes per frame.
        """
        codes = self.inference_model.encode(audio.to(self.device, torch.float32), n_codebooks, self.beam_width)
        return codes.cpu()

    @torch.inference_mode()
    def decode(self, codes: Tensor) -> Tensor:
        """int64 [B, Q, F] -> float32 [B, 1, F * hop_length] on CPU, clamped to [-1, 1]."""
        audio = self.inference_model.decode(codes.to(self.device, torch.long))
        return audio.float().clamp_(-1.0, 1.0).cpu()


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> CUDA when available else CPU; anything else is passed to torch.device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WeightsError("--device cuda asked for, but no CUDA device is available")
    return torch.device(device)


def load_codec(
    name: str,
    *,
    weights: str | None = None,
    device: str | torch.device = "cpu",
    random_init: bool = False,
    seed: int = 0,
    config: dict | None = None,
) -> Codec:
    """Load a registered codec with its packaged (or given) weights.

    Args:
        name: registry name, e.g. ``"mscacodec-nb"``.
        weights: path to a safetensors file; default is the packaged file
            (``$NSC_WEIGHTS_DIR`` overrides the folder).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``.
        random_init: build an untrained model (seeded) instead of loading weights.
        seed: RNG seed for ``random_init``.
        config: model config overrides for ``random_init`` (tests build tiny models).

    Raises:
        UnknownCodecError: no such codec.
        WeightsError: weights missing, failing their checksum, or not matching the model.
    """
    spec = get_spec(name)
    dev = resolve_device(device)
    if random_init:
        torch.manual_seed(seed)
        model = build_model(spec, config)
        trained = False
    else:
        path = weights_path(spec.weights) if weights is None else weights
        from pathlib import Path

        path = Path(path)
        if not path.exists():
            raise WeightsError(
                f"no trained weights for {spec.name} ({path.name} is not installed); "
                "train them with `nsc train` or set NSC_WEIGHTS_DIR"
            )
        state, config = load_weights(path, verify=weights is None)
        model = build_model(spec, config.get("model", {}))
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise WeightsError(
                f"{path.name} does not fit {spec.name}: missing {len(missing)} and unexpected "
                f"{len(unexpected)} tensors"
            )
        trained = True
    model.eval().to(dev)
    return Codec(spec=spec, model=model, fingerprint=fingerprint(model.state_dict()), device=dev, trained=trained,
                 beam_width=spec.beam_width)
