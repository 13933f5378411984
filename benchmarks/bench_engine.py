"""Benchmark the nsc engine: speed (x real time) and peak memory.

Prints, for one codec:
  * encode and decode speed (audio seconds per wall-clock second) of one 60 s file,
  * the same for a folder of 100 short files (2-5 s),
  * peak RSS of encoding and decoding a 1-hour file, each measured in a fresh
    subprocess (VmHWM, and ru_maxrss, which Linux inflates with the parent's
    peak at fork time; the hour runs first, while the parent is small),
  * the machine: CPU model, cores, torch threads, torch version.

Inputs are synthetic speech-like signals at 16 kHz (so resampling is included).
Without trained weights for the codec the benchmark runs a random-init model of
the same architecture and says so (speed and memory do not depend on the
weights).

Usage: python benchmarks/bench_engine.py [--codec mscacodec-nb] [--threads 1]
       [--batch-size 8] [--skip-hour] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RATE = 16000


def speechlike(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """float32 [T] harmonic signal with a wandering pitch and syllable-like envelope."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    t = np.arange(n) / rate
    f0 = 110 + 40 * np.sin(2 * np.pi * 0.7 * t + seed)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    x = sum(np.sin(k * phase) / k for k in range(1, 10)) * (0.3 + 0.7 * np.sin(2 * np.pi * 3 * t) ** 2)
    return (0.2 * x + 0.01 * rng.standard_normal(n)).astype(np.float32)


def write_long(path: Path, seconds: float) -> None:
    """Write a long 16-bit WAV block by block (never the whole signal in memory)."""
    block = speechlike(60.0, seed=1)
    with sf.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        left = int(seconds * RATE)
        while left > 0:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def load(codec_name: str, random_init: bool):
    from nsc.codec import load_codec
    from nsc.errors import WeightsError

    if not random_init:
        try:
            return load_codec(codec_name), False
        except WeightsError:
            pass
    return load_codec(codec_name, random_init=True, seed=0), True


def child(args) -> None:
    """Run one encode or decode job in this process and print its peak RSS (JSON)."""
    import torch

    torch.set_num_threads(args.threads)
    from nsc.engine import Engine, Job

    codec, _ = load(args.codec, args.random_init)
    eng = Engine(codec, batch_size=args.batch_size, device="cpu")
    t0 = time.perf_counter()
    if args.child == "encode":
        rep = eng.encode_files([Job(args.src, args.dst)], force=True)
    else:
        rep = eng.decode_files([Job(args.src, args.dst)], force=True)
    wall = time.perf_counter() - t0
    r = rep.results[0]
    if not r.ok:
        raise SystemExit(f"{args.child} failed: {r.error}")
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"peak_rss_mib": vm_hwm_kib() / 1024 if vm_hwm_kib() else maxrss_kib / 1024,
                      "ru_maxrss_mib": maxrss_kib / 1024, "audio_s": r.audio_s, "wall_s": wall}))


def vm_hwm_kib() -> int | None:
    """Peak RSS of this process image (VmHWM, KiB) from /proc; None where there is no /proc.

    Linux's ru_maxrss also counts the parent's peak at fork time (it survives exec),
    so a child of a big parent over-reports; VmHWM belongs to the child alone.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def machine(threads: int) -> str:
    import torch

    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} with {threads} thread(s), "
            f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--codec", default="mscacodec-nb")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--random-init", action="store_true", help="use a random-init model even if weights exist")
    p.add_argument("--skip-hour", action="store_true", help="skip the 1-hour memory measurement")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--child", choices=["encode", "decode"], help=argparse.SUPPRESS)
    p.add_argument("--src", help=argparse.SUPPRESS)
    p.add_argument("--dst", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return

    import torch

    torch.set_num_threads(args.threads)
    from nsc.engine import Engine, Job

    codec, random_init = load(args.codec, args.random_init)
    n_params = sum(q.numel() for q in codec.model.parameters())
    print(f"machine: {machine(args.threads)}")
    print(f"codec:   {codec.spec.name} ({n_params / 1e6:.2f} M parameters, "
          f"{codec.spec.bitrate_kbps(codec.spec.default_n_codebooks):g} kbit/s)"
          + ("  [RANDOM-INIT weights: no trained weights installed; speed/memory are the same]"
             if random_init else "  [trained weights]"))
    print(f"inputs:  synthetic speech-like audio at {RATE} Hz (resampled to {codec.sample_rate} Hz)")
    eng = Engine(codec, batch_size=args.batch_size, device="cpu")

    work = Path(args.workdir or tempfile.mkdtemp(prefix="nsc-bench-"))
    work.mkdir(parents=True, exist_ok=True)

    # 1-hour file first, while this process is small (ru_maxrss survives fork + exec)
    if not args.skip_hour:
        hour = work / "hour.wav"
        write_long(hour, 3600.0)
        base = [sys.executable, __file__, "--codec", args.codec, "--threads", str(args.threads),
                "--batch-size", str(args.batch_size)] + (["--random-init"] if random_init else [])
        results = {}
        for what, src, dst in [("encode", hour, work / "hour.nsc"), ("decode", work / "hour.nsc", work / "hour.out.wav")]:
            out = subprocess.run(base + ["--child", what, "--src", str(src), "--dst", str(dst)],
                                 capture_output=True, text=True, check=True)
            results[what] = json.loads(out.stdout.strip().splitlines()[-1])
        for what, r in results.items():
            print(f"1-hour file {what}: peak RSS {r['peak_rss_mib']:5.0f} MiB (VmHWM; ru_maxrss "
                  f"{r['ru_maxrss_mib']:.0f} MiB), {r['audio_s'] / r['wall_s']:.1f}x real time")

    # one 60 s file
    one = work / "one60.wav"
    sf.write(one, speechlike(60.0), RATE, subtype="PCM_16")
    eng.encode_files([Job(str(one), str(work / "warm.nsc"))], force=True)  # warm-up
    t_enc = timed(lambda: eng.encode_files([Job(str(one), str(work / "one60.nsc"))], force=True))
    t_dec = timed(lambda: eng.decode_files([Job(str(work / "one60.nsc"), str(work / "one60.out.wav"))], force=True))
    print(f"60 s file:          encode {60 / t_enc:7.1f}x real time   decode {60 / t_dec:7.1f}x real time")

    # 100 short files
    folder = work / "short"
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    total = 0.0
    for i in range(100):
        sec = float(rng.uniform(2.0, 5.0))
        total += sec
        sf.write(folder / f"f{i:03d}.wav", speechlike(sec, seed=i), RATE, subtype="PCM_16")
    enc_jobs = [Job(str(f), str(work / "short-nsc" / (f.stem + ".nsc"))) for f in sorted(folder.glob("*.wav"))]
    dec_jobs = [Job(j.dst, j.dst + ".wav") for j in enc_jobs]
    t_enc = timed(lambda: eng.encode_files(enc_jobs, force=True))
    t_dec = timed(lambda: eng.decode_files(dec_jobs, force=True))
    print(f"100 files ({total:.0f} s): encode {total / t_enc:7.1f}x real time   decode {total / t_dec:7.1f}x real time")

    print(f"(work files in {work})")


if __name__ == "__main__":
    main()
