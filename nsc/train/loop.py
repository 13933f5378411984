"""The training loop behind ``nsc train``: one loop for every codec family.

* single process (CPU: all cores unless ``run.threads``; CUDA when present), or
  several under ``torchrun`` (DistributedDataParallel; NCCL on GPUs, gloo on CPU);
* reconstruction losses first, then MPD + MS-STFT discriminators with
  feature matching from ``loss.gan_start_step`` (MSCACodec sec. 2.4);
* AdamW with warm-up and cosine decay; bf16 autocast on CUDA (quantizers in fp32);
* resumable checkpoints every ``run.checkpoint_every_s`` seconds (generator,
  discriminators, optimisers, schedulers, step, RNG states, resolved config),
  written atomically to ``OUT/last.ckpt``;
* validation (PESQ, STOI on a fixed subset of the valid split, at every
  bitrate the codec offers for its headline rates) every
  ``run.valid_every_steps``; the best generator is exported to
  ``OUT/best.safetensors`` (float16, config in metadata) and logged to
  ``OUT/log.jsonl``.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import sys
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from ..codec import build_model
from ..quantizers import sample_n_codebooks
from ..registry import CODECS, get_spec, headline_n_codebooks
from ..weights import load_weights, save_weights, weights_path
from .config import TrainConfig
from .data import CropSampler, load_split
from .discriminators import Discriminators
from .losses import (CompressedComplexSTFTLoss, MultiResolutionSTFTLoss, MultiScaleMelLoss, PeriodicityLoss,
                     discriminator_loss, feature_matching_loss, generator_adv_loss)

__all__ = ["train", "validate", "read_checkpoint_config", "check_setup"]


def _lr_lambda(cfg: TrainConfig):
    o = cfg.optim

    def f(step: int) -> float:
        if step < o.warmup_steps:
            return (step + 1) / o.warmup_steps
        p = min(1.0, (step - o.warmup_steps) / max(1, o.total_steps - o.warmup_steps))
        return (o.lr_min + 0.5 * (o.lr - o.lr_min) * (1 + math.cos(math.pi * p))) / o.lr

    return f


def _setup_distributed(device_pref: str) -> tuple[int, int, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_pref in ("auto", "cuda")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


@torch.no_grad()
def validate(model: nn.Module, utts, sample_rate: int, counts: list[int], device: torch.device,
             mel_loss: nn.Module | None = None) -> dict[str, float]:
    """PESQ (NB at 8 kHz, WB at 16 kHz) and STOI of each codebook count on the given utterances.

    With ``mel_loss``, also the multi-scale mel loss at every codebook count the
    model offers (``mel@N``, mean over the utterances): each added codebook
    should lower it. A flat curve means the extra codebooks are not used yet,
    or that the decoder, not the bits, limits quality (issue 2's calibration
    advice: check early that every added codebook lowers the loss).

    Returns ``{"pesq@N": mean, "stoi@N": mean}`` for each N in ``counts``
    (plus ``{"mel@N": mean}`` for each N of ``model.n_codebooks_options``).
    """
    from ..eval.metrics import pesq_score, stoi_score

    model.eval()
    mel_counts = tuple(getattr(model, "n_codebooks_options", ())) if mel_loss is not None else ()
    ps: dict[int, list[float]] = {n: [] for n in counts}
    ss: dict[int, list[float]] = {n: [] for n in counts}
    mels: dict[int, list[float]] = {n: [] for n in mel_counts}
    for u in utts:
        x = model.pad_to_frames(torch.from_numpy(u.audio)[None, None].to(device))
        for n in sorted(set(counts) | set(mel_counts)):  # one encode/decode per count serves every metric
            y = model.decode(model.encode(x, n))[..., : x.shape[-1]].float()
            if n in mels:
                mels[n].append(float(mel_loss(y, x)))
            if n in ps:
                out_audio = y[0, 0, : len(u.audio)].clamp(-1, 1).cpu().numpy()
                try:
                    ps[n].append(pesq_score(u.audio, out_audio, sample_rate))
                except ImportError:  # a training machine without the pesq build: STOI only
                    pass
                ss[n].append(stoi_score(u.audio, out_audio, sample_rate))
    out: dict[str, float] = {}
    for n in counts:
        out[f"pesq@{n}"] = float(np.nanmean(ps[n])) if ps[n] and not np.all(np.isnan(ps[n])) else float("nan")
        out[f"stoi@{n}"] = float(np.nanmean(ss[n])) if ss[n] and not np.all(np.isnan(ss[n])) else float("nan")
    if utts:
        out.update({f"mel@{n}": float(np.mean(v)) for n, v in mels.items()})
    model.train()
    return out


def _init_path(init_from: str) -> Path:
    """``run.init_from``: a weights file, or a codec name for that codec's packaged weights."""
    if init_from in CODECS:
        return weights_path(CODECS[init_from].weights)
    return Path(init_from)


def select_state(model: torch.nn.Module, state: dict[str, torch.Tensor], prefixes: list[str]
                 ) -> dict[str, torch.Tensor]:
    """The tensors of ``state`` under the name ``prefixes``, checked against ``model``.

    Used to warm-start one part of a model from another model's weights (the
    quantizer ablation puts a fresh quantizer under a trained encoder/decoder).

    Raises:
        ValueError: a selected tensor is missing from ``model``, or the model has one under the
            prefixes that ``state`` lacks, or their shapes differ (the two configs do not match).
    """
    own = model.state_dict()
    pre = tuple(prefixes)
    kept = {k: v for k, v in state.items() if k.startswith(pre)}
    wanted = {k for k in own if k.startswith(pre)}
    if kept.keys() != wanted:
        diff = sorted(kept.keys() ^ wanted)
        raise ValueError(f"init_from and the model differ under {list(prefixes)}: {', '.join(diff[:4])}")
    bad = [k for k, v in kept.items() if own[k].shape != v.shape]
    if bad:
        raise ValueError(f"init_from shapes differ from the model's: {', '.join(bad[:4])}")
    return kept


def _atomic_save(obj: object, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_init(model: nn.Module, cfg: TrainConfig) -> None:
    """Load ``run.init_from`` into ``model``: every tensor, or those under ``run.init_only``.

    Raises:
        ValueError: the weights do not fit the model (another codec, preset or width).
        nsc.errors.NscError: ``run.init_from`` is missing or not a weights file.
    """
    state, _ = load_weights(_init_path(cfg.run.init_from), verify=False)
    if cfg.run.init_only:
        state = select_state(model, state, cfg.run.init_only)
    try:
        model.load_state_dict(state, strict=not cfg.run.init_only)
    except RuntimeError:
        raise ValueError(f"run.init_from {cfg.run.init_from} does not fit the model of this recipe "
                         "(another codec, preset or width)") from None


def check_setup(cfg: TrainConfig, resume: bool = False) -> None:
    """Fail fast on a configuration that cannot train, before any data is read.

    Builds the model from ``cfg.model`` and loads ``run.init_from`` into it as
    :func:`train` will (not when resuming: the checkpoint supplies the weights).

    Raises:
        ValueError: an unknown model setting, or init weights that do not fit the model.
        nsc.errors.NscError: an unknown codec, or ``run.init_from`` missing or not a weights file.
    """
    model = build_model(get_spec(cfg.codec), cfg.model)
    if cfg.run.init_from and not resume:
        _load_init(model, cfg)


def read_checkpoint_config(path: str | Path) -> tuple[dict, int]:
    """The stored configuration (nested dict) and step of a training checkpoint (``last.ckpt``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable nsc training checkpoint (truncated, another format).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found")
    try:
        ck = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
        return ck["config"], int(ck["step"])
    except Exception as e:  # noqa: BLE001 - pickle/zip errors vary; any of them means unreadable
        raise ValueError(f"{path} is not a readable nsc training checkpoint ({type(e).__name__})") from None


def train(cfg: TrainConfig, resume: str | None = None, progress: bool = True) -> dict:
    """Run training as configured; returns the last validation metrics.

    Raises:
        FileNotFoundError: the manifest or a resume checkpoint is missing.
    """
    rank, world, device = _setup_distributed(cfg.run.device)
    is_main = rank == 0
    if device.type == "cpu":
        torch.set_num_threads(cfg.run.threads or os.cpu_count() or 1)
    seed = cfg.run.seed + rank
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)

    spec = get_spec(cfg.codec)
    model = build_model(spec, cfg.model).to(device)
    if cfg.run.init_from and not resume:  # a resumed run's weights come from its checkpoint
        _load_init(model, cfg)
    discs = Discriminators(spec.sample_rate, cfg.loss.disc_width).to(device)
    mel_loss = MultiScaleMelLoss(spec.sample_rate).to(device)
    stft_loss = MultiResolutionSTFTLoss(spec.sample_rate).to(device)
    complex_loss = CompressedComplexSTFTLoss(spec.sample_rate).to(device) if cfg.loss.complex else None
    periodicity_loss = (PeriodicityLoss(spec.sample_rate, peak_weight=cfg.loss.periodicity_peak).to(device)
                        if cfg.loss.periodicity else None)

    opt_g = torch.optim.AdamW(model.parameters(), lr=cfg.optim.lr, betas=cfg.optim.betas,
                              weight_decay=cfg.optim.weight_decay)
    opt_d = torch.optim.AdamW(discs.parameters(), lr=cfg.optim.disc_lr, betas=cfg.optim.betas,
                              weight_decay=cfg.optim.weight_decay)
    sched_g = torch.optim.lr_scheduler.LambdaLR(opt_g, _lr_lambda(cfg))

    out_dir = Path(cfg.run.out_dir)
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    step, best = 0, -float("inf")
    sampler_state = None
    if resume:
        ck = torch.load(resume, map_location=device, weights_only=False)
        model.load_state_dict(ck["model"])
        discs.load_state_dict(ck["discs"])
        opt_g.load_state_dict(ck["opt_g"])
        opt_d.load_state_dict(ck["opt_d"])
        sched_g.load_state_dict(ck["sched_g"])
        step, best = ck["step"], ck.get("best", best)
        sampler_state = ck.get("sampler")
        torch.set_rng_state(ck["torch_rng"])
        random.setstate(ck["py_rng"])

    segment = int(cfg.data.segment_s * spec.sample_rate) // spec.hop_length * spec.hop_length
    train_utts = load_split(cfg.data.manifest, cfg.data.train_split, spec.sample_rate)
    sampler = CropSampler(train_utts, segment, cfg.data.batch_size, cfg.data.gain_db, cfg.data.speed, seed=seed)
    if sampler_state is not None and world == 1:
        sampler.set_state(sampler_state)
    valid_utts = []
    if is_main and cfg.run.valid_files:
        try:
            valid_utts = load_split(cfg.data.manifest, cfg.data.valid_split, spec.sample_rate, cfg.run.valid_files)
            cap = int(cfg.run.valid_max_s * spec.sample_rate)
            for u in valid_utts:
                u.audio = u.audio[:cap]
        except FileNotFoundError:
            valid_utts = []

    ddp_model = model
    ddp_discs = discs
    if world > 1:
        ddp_model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                                        find_unused_parameters=True)
        ddp_discs = nn.parallel.DistributedDataParallel(discs, device_ids=[device.index] if device.type == "cuda" else None)

    amp = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if (device.type == "cuda" and cfg.run.amp) else nullcontext
    counts = headline_n_codebooks(spec)
    train_counts = tuple(cfg.run.n_codebooks) or spec.n_codebooks_options
    if not set(train_counts) <= set(spec.n_codebooks_options):
        raise ValueError(f"run.n_codebooks {list(train_counts)} not among {list(spec.n_codebooks_options)}")
    if cfg.run.n_codebooks:
        counts = sorted(train_counts)
    log_path = out_dir / "log.jsonl"
    t_start = time.time()
    t_ckpt = time.time()
    last_metrics: dict = {}
    running: dict[str, float] = {}
    t_log, steps_since = time.time(), 0
    bar = None
    if is_main and progress and sys.stderr.isatty():
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("[bold]train[/] step {task.completed}"), BarColumn(), TextColumn("{task.fields[info]}"),
                       TimeElapsedColumn(), transient=False)
        bar.start()
        task = bar.add_task("train", total=cfg.run.max_steps or None, completed=step, info="")

    def save_checkpoint() -> None:
        _atomic_save({"model": model.state_dict(), "discs": discs.state_dict(), "opt_g": opt_g.state_dict(),
                      "opt_d": opt_d.state_dict(), "sched_g": sched_g.state_dict(), "step": step, "best": best,
                      "sampler": sampler.state(), "torch_rng": torch.get_rng_state(), "py_rng": random.getstate(),
                      "config": cfg.to_dict()}, out_dir / "last.ckpt")

    model.train()
    discs.train()
    def _on_term(signum, frame):  # `kill` (SIGTERM) stops like Ctrl-C: checkpoint first
        raise KeyboardInterrupt

    if is_main and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _on_term)
    try:
        while True:
            if cfg.run.max_steps and step >= cfg.run.max_steps:
                break
            if cfg.run.max_minutes and (time.time() - t_start) / 60 >= cfg.run.max_minutes:
                break
            x = sampler.batch().to(device, non_blocking=True)
            n_active = sample_n_codebooks(x.shape[0], train_counts, device=device)
            with amp():
                out = ddp_model(x, n_active)
            y = out.audio.float()
            losses = {
                "mel": mel_loss(y, x),
                "stft": stft_loss(y, x),
                "wave": torch.mean(torch.abs(y - x)),
                "commit": out.commit_loss.float(),
            }
            if complex_loss is not None:
                losses["complex"] = complex_loss(y, x)
            if periodicity_loss is not None:
                losses["periodicity"] = periodicity_loss(y, x)
            gan = step >= cfg.loss.gan_start_step
            if gan:
                # one discriminator forward per backward (real and fake in one batch), as DDP requires
                b = x.shape[0]
                with amp():
                    logits, _ = ddp_discs(torch.cat([x, y.detach()]))
                d_loss = discriminator_loss([l[:b] for l in logits], [l[b:] for l in logits])
                opt_d.zero_grad(set_to_none=True)
                d_loss.backward()
                torch.nn.utils.clip_grad_norm_(discs.parameters(), cfg.optim.grad_clip)
                opt_d.step()
                with amp():
                    logits, feats = ddp_discs(torch.cat([x, y]))
                losses["adv"] = generator_adv_loss([l[b:] for l in logits])
                losses["feat"] = feature_matching_loss([[f[:b] for f in fs] for fs in feats],
                                                       [[f[b:] for f in fs] for fs in feats])
                losses["disc"] = d_loss.detach()
            total = sum(getattr(cfg.loss, k) * v for k, v in losses.items() if k != "disc")  # weights by loss name
            opt_g.zero_grad(set_to_none=True)
            total.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            opt_g.step()
            sched_g.step()
            step += 1
            steps_since += 1
            for k, v in losses.items():
                running[k] = running.get(k, 0.0) + float(v.detach())

            if is_main and step % cfg.run.log_every_steps == 0:
                rate = steps_since / (time.time() - t_log)
                means = {k: v / steps_since for k, v in running.items()}
                rec = {"step": step, "steps_per_s": round(rate, 3), "minutes": round((time.time() - t_start) / 60, 2),
                       "lr": sched_g.get_last_lr()[0], **{k: round(v, 4) for k, v in means.items()}}
                with open(log_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                info = f"{rate:.2f} it/s " + " ".join(f"{k} {v:.3f}" for k, v in means.items())
                if bar is not None:
                    bar.update(task, completed=step, info=info)
                elif progress:
                    print(f"step {step} {info}", flush=True)
                running, t_log, steps_since = {}, time.time(), 0

            if is_main and valid_utts and step % cfg.run.valid_every_steps == 0:
                last_metrics = validate(model, valid_utts, spec.sample_rate, counts, device, mel_loss)
                key = "pesq" if any(k.startswith("pesq") and not np.isnan(v) for k, v in last_metrics.items()) else "stoi"
                # the checkpoint score is PESQ (or STOI) only; mel@N is logged for the codebook check
                score = float(np.nanmean([v for k, v in last_metrics.items() if k.startswith(key)]))
                rec = {"step": step, "valid": last_metrics, "score": score,
                       "files": len(valid_utts), "max_s": cfg.run.valid_max_s}  # the subset, for cards and plots
                with open(log_path, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                if progress:
                    msg = f"valid @ {step}: " + " ".join(f"{k} {v:.3f}" for k, v in last_metrics.items()
                                                         if not k.startswith("mel@"))
                    mels = [f"{v:.3f}" for k, v in last_metrics.items() if k.startswith("mel@")]
                    if mels:
                        msg += " | mel by codebooks " + " ".join(mels)
                    (bar.console.print(msg) if bar is not None else print(msg, flush=True))
                if score > best:
                    best = score
                    save_weights(model.state_dict(), {"codec": spec.name, "model": model.config}, out_dir / "best.safetensors",
                                 step=str(step), metrics=json.dumps(last_metrics))
            if is_main and time.time() - t_ckpt >= cfg.run.checkpoint_every_s:
                save_checkpoint()
                t_ckpt = time.time()
    except KeyboardInterrupt:
        if is_main:
            save_checkpoint()
        raise
    if is_main:
        save_checkpoint()
        save_weights(model.state_dict(), {"codec": spec.name, "model": model.config}, out_dir / "last.safetensors",
                     step=str(step))
    if bar is not None:
        bar.stop()
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()
    return last_metrics
