"""Packaged model weights: locate, verify (SHA-256), load, and fingerprint.

Weights ship inside the package as float16 safetensors files in ``nsc/weights/``;
``manifest.json`` beside them pins each file's SHA-256. Each file's safetensors
metadata holds the model config (JSON under the key ``"config"``) so that the
exact architecture is rebuilt from the file. Nothing is downloaded.

A user may point at their own weights with ``NSC_WEIGHTS_DIR`` (a folder holding
``<codec>.safetensors``) or by passing a path; such files are not pinned but
their fingerprint still guards decoding.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from .errors import WeightsError

__all__ = [
    "WEIGHTS_DIR",
    "weights_path",
    "read_manifest",
    "sha256_file",
    "load_weights",
    "save_weights",
    "fingerprint",
]

WEIGHTS_DIR = Path(__file__).parent / "weights"
MANIFEST = WEIGHTS_DIR / "manifest.json"


def read_manifest() -> dict[str, dict]:
    """The packaged weights manifest: ``{file name: {"sha256": hex, ...}}`` (empty if absent)."""
    if not MANIFEST.exists():
        return {}
    return json.loads(MANIFEST.read_text())


def weights_path(file_name: str) -> Path:
    """Where the weights file for a codec is looked for: ``$NSC_WEIGHTS_DIR`` first, then the package."""
    override = os.environ.get("NSC_WEIGHTS_DIR")
    if override:
        p = Path(override) / file_name
        if p.exists():
            return p
    return WEIGHTS_DIR / file_name


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_weights(path: Path, *, verify: bool = True) -> tuple[dict[str, torch.Tensor], dict]:
    """Load a weights file and its config.

    Args:
        path: a safetensors file written by :func:`save_weights`.
        verify: check the SHA-256 against ``manifest.json`` when the file is a packaged one.

    Returns:
        (state dict of float32 tensors, config dict stored in the file's metadata).

    Raises:
        WeightsError: the file is missing, unreadable, or fails its SHA-256 check.
    """
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file {path} not found")
    if verify and path.parent.resolve() == WEIGHTS_DIR.resolve():
        pinned = read_manifest().get(path.name, {}).get("sha256")
        if pinned is None:
            raise WeightsError(f"{path.name} is not listed in {MANIFEST.name}")
        actual = sha256_file(path)
        if actual != pinned:
            raise WeightsError(
                f"{path.name} fails its SHA-256 check (expected {pinned[:16]}..., got {actual[:16]}...)"
            )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k).float() for k in f.keys()}
    except Exception as e:  # safetensors raises several types for bad files
        raise WeightsError(f"cannot read weights {path}: {e}") from None
    config = json.loads(meta.get("config", "{}"))
    return state, config


def save_weights(state: dict[str, torch.Tensor], config: dict, path: Path, **card: str) -> str:
    """Write float16 generator weights with their config; return the file's SHA-256.

    Only floating tensors are cast to float16; integer buffers keep their dtype.
    """
    tensors = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous().cpu()
        for k, v in state.items()
    }
    meta = {"config": json.dumps(config, sort_keys=True)}
    meta.update({k: str(v) for k, v in card.items()})
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    return sha256_file(Path(path))


def fingerprint(state: dict[str, torch.Tensor]) -> bytes:
    """8-byte fingerprint of a model's weights, stored in every `.nsc` header.

    SHA-256 over the sorted tensor names, shapes and float16 bytes, truncated to
    8 bytes; the same for a model loaded from float16 safetensors and for the
    file's own tensors, so it identifies the weights, not the file layout.
    """
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu()
        t = t.to(torch.float16) if t.is_floating_point() else t
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.digest()[:8]
