"""Training configuration: dataclasses loaded from a TOML recipe with dotted overrides.

``nsc train RECIPE.toml --set optim.lr=3e-4 --set data.batch_size=32``. The
resolved configuration is stored in every checkpoint and in exported weights;
``--resume`` continues under the checkpoint's configuration (:func:`resume_config`).
"""

from __future__ import annotations

import copy
import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TrainConfig", "load_config", "resume_config", "apply_overrides", "RECIPES_DIR"]

RECIPES_DIR = Path(__file__).parent / "recipes"


@dataclass
class DataConfig:
    """Where the speech comes from and how crops are drawn."""

    manifest: str = "../shared/data/speech/manifest.csv"
    train_split: str = "train"
    valid_split: str = "valid"
    segment_s: float = 1.0
    batch_size: int = 16
    gain_db: float = 10.0  # random gain in +-gain_db, then peak-limited
    speed: float = 0.05  # speed perturbation in 1 +- speed


@dataclass
class OptimConfig:
    """AdamW with linear warm-up and cosine decay (generator and discriminators)."""

    lr: float = 5e-4
    lr_min: float = 5e-5
    betas: tuple[float, float] = (0.8, 0.99)
    weight_decay: float = 1e-2
    warmup_steps: int = 500
    total_steps: int = 200_000
    grad_clip: float = 10.0
    disc_lr: float = 2e-4


@dataclass
class LossConfig:
    """Loss weights (EnCodec/DAC-style multi-scale spectral + adversarial recipe)."""

    mel: float = 15.0
    stft: float = 1.0
    wave: float = 2.0
    complex: float = 0.0  # compressed complex STFT (phase-aware); 0 = off
    periodicity: float = 0.0  # autocorrelation at pitch lags (losses.PeriodicityLoss); 0 = off
    periodicity_peak: float = 0.0  # within it, weight of the period-blind peak term
    commit: float = 1.0
    adv: float = 1.0
    feat: float = 2.0
    gan_start_step: int = 20_000
    disc_width: int = 16


@dataclass
class RunConfig:
    """Run control: where checkpoints go, how long, how often."""

    out_dir: str = "runs/default"
    max_steps: int = 0  # 0 = no step limit
    max_minutes: float = 0.0  # 0 = no time limit
    checkpoint_every_s: float = 300.0
    valid_every_steps: int = 1000
    valid_files: int = 12
    valid_max_s: float = 8.0
    log_every_steps: int = 50
    seed: int = 0
    device: str = "auto"
    threads: int = 0  # CPU threads; 0 = all cores
    amp: bool = True  # bf16 autocast on CUDA
    init_from: str = ""  # generator weights to start from: a .safetensors file, or a codec name (its packaged weights)
    init_only: list[str] = field(default_factory=list)  # take only init_from tensors under these name
    # prefixes (e.g. ["encoder.", "decoder."] to warm-start a backbone under a fresh quantizer)
    n_codebooks: list[int] = field(default_factory=list)  # train only these counts (default: every count offered)


@dataclass
class TrainConfig:
    """A whole training recipe."""

    codec: str = "mscacodec-nb"
    model: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        """Plain nested dict (TOML/JSON friendly)."""
        return dataclasses.asdict(self)


_SECTIONS = {"data": DataConfig, "optim": OptimConfig, "loss": LossConfig, "run": RunConfig}


def _typed(name: str, default: Any, value: Any) -> Any:
    """``value`` checked against the type of the setting's default (ints pass as floats).

    Raises:
        ValueError: the value has the wrong type.
    """
    def bad(kind: str) -> ValueError:
        return ValueError(f"setting {name} expects {kind}, got {value!r}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        value = float(value)
    elif isinstance(default, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # a bare number where a name or path goes (run.out_dir=2026)
        elif not isinstance(value, str):
            raise bad("a string")
    elif isinstance(default, (tuple, list)):
        if not isinstance(value, (tuple, list)):
            raise bad("a list")
        value = tuple(value) if isinstance(default, tuple) else list(value)
    return value


def from_dict(d: dict) -> TrainConfig:
    """Build a config from a nested dict.

    Raises:
        ValueError: an unknown section or key (typos must not be silently ignored), or a
            value of the wrong type (``optim.lr=abc``).
    """
    cfg = TrainConfig()
    for key, value in d.items():
        if key in ("codec",):
            cfg.codec = value
        elif key == "model":
            cfg.model = dict(value)
        elif key in _SECTIONS:
            section = getattr(cfg, key)
            names = {f.name for f in dataclasses.fields(section)}
            for k, v in value.items():
                if k not in names:
                    raise ValueError(f"unknown setting {key}.{k}")
                setattr(section, k, _typed(f"{key}.{k}", getattr(section, k), v))
        else:
            raise ValueError(f"unknown recipe section {key!r}")
    return cfg


def _parse_value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(d: dict, overrides: list[str]) -> dict:
    """Apply ``key.sub=value`` overrides (values in TOML syntax; bare words are strings).

    Raises:
        ValueError: an override without ``=``.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, value = item.split("=", 1)
        parts = key.strip().split(".")
        node = d
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = _parse_value(value.strip())
    return d


def load_config(recipe: str | Path, overrides: list[str] | None = None) -> TrainConfig:
    """Load a TOML recipe (a path, or the name of a packaged recipe) and apply overrides.

    Raises:
        FileNotFoundError: no such recipe.
        ValueError: unknown keys or malformed overrides.
    """
    path = Path(recipe)
    if not path.exists():
        packaged = RECIPES_DIR / (path.name if path.suffix else f"{path.name}.toml")
        if not packaged.exists():
            raise FileNotFoundError(f"recipe {recipe} not found (packaged: {', '.join(p.stem for p in RECIPES_DIR.glob('*.toml'))})")
        path = packaged
    d = tomllib.loads(path.read_text())
    return from_dict(apply_overrides(d, overrides or []))


def resume_config(recipe: str | Path, stored: dict, overrides: list[str] | None = None) -> TrainConfig:
    """The configuration a resumed run continues under: the checkpoint's, then ``overrides``.

    A checkpoint stores the resolved configuration of its run (``"config"``), so
    ``nsc train RECIPE --resume CKPT`` keeps that run's output folder, model, losses,
    schedule and seed; only ``--set`` overrides change it (e.g. a longer
    ``optim.total_steps``). ``recipe`` only has to name the same codec.

    Raises:
        FileNotFoundError: no such recipe.
        ValueError: the checkpoint trains another codec than ``recipe``, has no stored
            configuration, or an override is unknown or malformed.
    """
    if not isinstance(stored, dict) or "codec" not in stored:
        raise ValueError("the checkpoint has no stored configuration; not an nsc training checkpoint")
    codec = load_config(recipe).codec
    if stored["codec"] != codec:
        raise ValueError(f"the checkpoint trains {stored['codec']}, the recipe {codec}")
    return from_dict(apply_overrides(copy.deepcopy(stored), overrides or []))
