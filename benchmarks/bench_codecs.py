"""Speed and memory of every nsc codec, side by side with Codec2 and Opus.

Prints four tables, each with the machine it ran on (CPU model, threads, torch
version, load average):

1. **Speed, one file** (``--seconds``, default 60 s): encode and decode speed in
   x real time (audio seconds per wall-clock second) of each codec's model
   (``Codec.encode`` / ``Codec.decode`` on the whole file, default bitrate; decode
   includes the postfilter for codecs that apply it by default) on one
   torch thread and on all logical CPUs; then Codec2 1200 and 2400
   (``c2enc``/``c2dec``) and Opus 8 kbit/s (``opusenc``/``opusdec``) on the same
   audio, and the ratios nsc speed / baseline speed (above 1: nsc is faster).
   Each figure is the best of 3 runs (1 with ``--quick``) after a warm-up; a
   setting slower than 2x real time in the warm-up (many threads on a busy
   machine) is timed once on a 5 s excerpt instead, and marked.
2. **Folder throughput**: ``--files`` files of 2-10 s through the real CLI,
   ``python -m nsc encode DIR -o OUT --device cpu``, with ``--batch-size 1`` (the
   CPU default) and ``--batch-size 8`` (the CUDA default): files per second and audio hours per hour. The wall time
   includes starting Python and loading the model, as a user sees it.
3. **Peak memory, 1-hour file** (``--hour-seconds``, default 3600): peak resident
   memory (VmHWM of the CLI process, from /proc) of ``nsc encode``
   and ``nsc decode``. Slow; ``--no-hour`` skips it. (``bench_engine.py``
   measures the engine alone, in-process, for one codec.)
4. **GPU batch throughput** for batch sizes 1, 8 and 32 of 10 s segments, or the
   line "no GPU on this machine".

Audio: real speech (LibriSpeech clips from the shared corpus, joined end to end)
when ``/work/shared/data/speech`` is present, else a synthetic speech-like
signal; 16 kHz, resampled to each codec's rate. A codec without trained weights
runs a random-init model of the same architecture (same speed and memory); its
rows say "(untrained weights)", and the CLI parts get those random weights
through ``NSC_WEIGHTS_DIR``.

Usage:
    python benchmarks/bench_codecs.py [--codecs mscacodec-nb,srcodec-16k]
        [--seconds 60] [--files 100] [--hour/--no-hour] [--hour-seconds 3600]
        [--parts speed,folder,hour,gpu] [--quick] [--markdown OUT.md] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE)]

from _machine import describe  # noqa: E402
from nsc.codec import Codec, load_codec  # noqa: E402
from nsc.models.precision import native_bfloat16  # noqa: E402
from nsc.errors import NscError, WeightsError  # noqa: E402
from nsc.postfilter import apply as apply_postfilter  # noqa: E402
from nsc.postfilter import postfilter_for  # noqa: E402
from nsc.eval.baselines import codec2_roundtrip, opus_roundtrip  # noqa: E402
from nsc.registry import CODECS  # noqa: E402
from nsc.weights import save_weights, weights_path  # noqa: E402

RATE = 16000  # Hz, the rate of every test file
SPEECH = ROOT.parent / "shared" / "data" / "speech"
ALL_THREADS = os.cpu_count() or 1
CLI_THREADS = torch.get_num_threads()  # what a fresh `nsc` process uses
GPU_BATCHES = (1, 8, 32)
PARTS = ("speed", "folder", "hour", "gpu")
SLOW_EXCERPT_S = 5  # s of audio timed for a setting that runs below 2x real time


# --------------------------------------------------------------------------- tables


@dataclass
class Table:
    """A titled table printed as aligned text and written as Markdown."""

    title: str
    machine: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        if not self.headers:
            return "\n".join([f"== {self.title} ==", f"machine: {self.machine}"] + self.notes) + "\n"
        cells = [self.headers] + self.rows
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.headers))]

        def line(r: list[str]) -> str:  # first column left-aligned, numbers right-aligned
            return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))

        out = [f"== {self.title} ==", f"machine: {self.machine}", line(self.headers),
               "  ".join("-" * w for w in widths)] + [line(r) for r in self.rows]
        return "\n".join(out + self.notes) + "\n"

    def markdown(self) -> str:
        if not self.headers:
            return "\n".join([f"### {self.title}", "", f"Machine: {self.machine}", ""] + self.notes) + "\n"
        out = [f"### {self.title}", "", f"Machine: {self.machine}", "",
               "| " + " | ".join(self.headers) + " |",
               "|" + "|".join("---" if i == 0 else "---:" for i in range(len(self.headers))) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in self.rows]
        return "\n".join(out + ([""] + self.notes if self.notes else [])) + "\n"


def show(table: Table, tables: list[Table]) -> None:
    print(table.text(), flush=True)
    tables.append(table)


def fx(x: float) -> str:
    """Speed or ratio as ``"12.3x"``."""
    return f"{x:.3g}x" if x < 10 else f"{x:.0f}x"


# --------------------------------------------------------------------------- audio


def synthetic(seconds: float, seed: int = 0) -> np.ndarray:
    """float32 [T] at 16 kHz: harmonics of a wandering pitch, syllable-rate envelope, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    f0 = 120 + 40 * np.sin(2 * np.pi * 0.5 * t) + 10 * np.sin(2 * np.pi * 5 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 20))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t + np.sin(2 * np.pi * 0.3 * t)), 0, None) ** 2
    x = 0.15 * envelope * voiced + 0.01 * rng.standard_normal(len(t))
    return x.astype(np.float32)


def source_audio(seconds: float) -> tuple[np.ndarray, str]:
    """float32 [T] of ``seconds`` at 16 kHz and a description of where it came from."""
    n = int(seconds * RATE)
    manifest = SPEECH / "manifest.csv"
    if manifest.exists():
        with open(manifest, newline="") as f:
            rows = sorted(csv.DictReader(f), key=lambda r: r["path"])
        rows = [r for r in rows if r["source"] == "librispeech"] or rows
        parts, total = [], 0
        for r in rows:
            x, rate = sf.read(SPEECH / r["path"], dtype="float32", always_2d=True)
            x = x.mean(axis=1)
            if rate != RATE:
                x = soxr.resample(x, rate, RATE).astype(np.float32)
            parts.append(x)
            total += len(x)
            if total >= n:
                break
        if parts:
            x = np.concatenate(parts)
            return np.resize(x, n), f"real speech, {len(parts)} clips from {SPEECH} joined"
    return synthetic(seconds), "synthetic speech-like signal (no shared speech corpus here)"


def at_rate(x: np.ndarray, rate: int) -> np.ndarray:
    return x if rate == RATE else soxr.resample(x, RATE, rate).astype(np.float32)


# --------------------------------------------------------------------------- codecs


def load(name: str, device: str = "cpu") -> tuple[Codec, str]:
    """The codec with trained weights, else a random-init one; and its row label."""
    try:
        return load_codec(name, device=device), name
    except WeightsError:
        return load_codec(name, device=device, random_init=True), f"{name} (untrained weights)"


def best_of(fn, repeats: int) -> float:
    """Shortest wall time (s) of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cli_env(names: list[str], work: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Environment for `nsc` subprocesses (random-init weights for codecs that have none) and row labels."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    wdir = work / "weights"
    wdir.mkdir(parents=True, exist_ok=True)
    labels = {}
    for name in names:
        codec, labels[name] = load(name)
        dst = wdir / codec.spec.weights
        dst.unlink(missing_ok=True)
        if codec.trained:  # keep using the weights load_codec found (package or $NSC_WEIGHTS_DIR)
            dst.symlink_to(weights_path(codec.spec.weights))
        else:
            save_weights(codec.model.state_dict(), {"model": {}}, dst)
    env["NSC_WEIGHTS_DIR"] = str(wdir)
    return env, labels


#: Runs the nsc CLI and, at exit, writes the process's own peak RSS (VmHWM, KiB) to $NSC_BENCH_HWM.
#: ru_maxrss from os.wait4 would also count this (large) parent's RSS at fork time.
_CLI_WITH_HWM = """
import atexit, os, sys
def _hwm():
    for line in open('/proc/self/status'):
        if line.startswith('VmHWM:'):
            open(os.environ['NSC_BENCH_HWM'], 'w').write(line.split()[1])
atexit.register(_hwm)
sys.argv = ['nsc'] + sys.argv[1:]
from nsc.cli import main
main()
"""


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run the nsc CLI with ARGS; return (wall s, peak RSS MiB of that process: VmHWM, else ru_maxrss)."""
    hwm_file = Path(tempfile.mkstemp(prefix="nsc-hwm-")[1])
    env = {**env, "NSC_BENCH_HWM": str(hwm_file)}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _CLI_WITH_HWM, *args], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read()
    proc.stderr.close()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        message = err.decode(errors="replace").strip()[-500:]
        raise NscError(f"nsc {args[0]} failed (exit {proc.returncode}): {message}")
    hwm = hwm_file.read_text().strip() if hwm_file.exists() else ""
    hwm_file.unlink(missing_ok=True)
    return wall, (int(hwm) if hwm else usage.ru_maxrss) / 1024  # KiB -> MiB


# --------------------------------------------------------------------------- parts


def bench_speed(names: list[str], audio: np.ndarray, origin: str, repeats: int, tables: list[Table]) -> None:
    seconds = len(audio) / RATE
    threads = sorted({1, ALL_THREADS})
    speeds: dict[tuple[str, int], tuple[float, float]] = {}
    labels = {}
    slow: set[tuple[str, int]] = set()
    dec_f32: dict[str, float] = {}
    for name in names:
        codec, labels[name] = load(name)
        x = torch.from_numpy(at_rate(audio, codec.sample_rate)).view(1, 1, -1)
        n_codebooks = codec.spec.default_n_codebooks
        for t in threads:
            torch.set_num_threads(t)
            warm = best_of(lambda: codec.decode(codec.encode(x[..., : codec.sample_rate], n_codebooks)), 1)
            xs, runs = x, repeats
            if warm > 1.0:  # below 2x real time: time a short excerpt once, to keep the run short
                xs, runs = x[..., : SLOW_EXCERPT_S * codec.sample_rate], 1
                slow.add((name, t))
            enc = best_of(lambda: codec.encode(xs, n_codebooks), runs)
            codes = codec.encode(xs, n_codebooks)
            n_s = xs.shape[-1] / codec.sample_rate
            pf = postfilter_for(codec.spec)  # what `nsc decode` adds by default (numpy, one thread)
            if pf is not None:
                y = codec.decode(codes)[0, 0].numpy()
                pf_s = best_of(lambda: apply_postfilter(y, pf), runs)
            else:
                pf_s = 0.0
            dec = best_of(lambda: codec.decode(codes), runs) + pf_s
            speeds[name, t] = (n_s / enc, n_s / dec)
            if t == 1:  # `nsc decode --precision float32`, for the machines without native bfloat16
                f32 = codec.with_precision("float32")
                f32.decode(codes[..., :50])  # build its inference model outside the timing
                dec_f32[name] = n_s / (best_of(lambda: f32.decode(codes), runs) + pf_s)
    torch.set_num_threads(CLI_THREADS)

    baselines: dict[str, tuple[float, float]] = {}
    missing = []
    jobs = [("Codec2 1200", lambda: codec2_roundtrip(at_rate(audio, 8000), "1200")),
            ("Codec2 2400", lambda: codec2_roundtrip(at_rate(audio, 8000), "2400")),
            ("Opus 8 kbit/s", lambda: opus_roundtrip(audio, RATE, 8.0))]
    for label, job in jobs:
        try:
            trips = [job() for _ in range(repeats)]
        except NscError as e:  # ToolMissingError included
            missing.append(f"{label}: {e}")
            continue
        baselines[label] = (seconds / min(r.encode_s for r in trips), seconds / min(r.decode_s for r in trips))

    cols = [f"{k} {t} thr" for t in threads for k in ("encode", "decode")] + ["decode 1 thr float32"]
    table = Table(f"Speed, one {seconds:g} s file (x real time, best of {repeats})",
                  describe(" and ".join(map(str, threads))), ["codec"] + cols)
    for name in names:
        table.rows.append([labels[name]] + [fx(v) + ("*" if (name, t) in slow else "") for t in threads
                                            for v in speeds[name, t]] + [fx(dec_f32[name])])
    for label, (e, d) in baselines.items():
        table.rows.append([f"{label} (tool, 1 thread)"] + [fx(v) for _ in threads for v in (e, d)] + [fx(d)])
    arithmetic = ("in bfloat16 (this CPU computes it natively)" if native_bfloat16()
                  else "in float32 (this CPU has no native bfloat16)")
    table.notes = [f"audio: {origin}; nsc: model, plus the postfilter where `nsc models` says it is on "
                   "(decode), default bitrate; Codec2 at 8 kHz, Opus at 16 kHz "
                   "(--speech --hard-cbr, 20 ms frames), each tool run as a process on raw PCM.",
                   f"decode: as `nsc decode` runs by default (`--precision auto`): the decoder's MSR-CAM blocks "
                   f"{arithmetic}; decode float32: `--precision float32`."]
    if slow:
        table.notes.append(f"(*) below 2x real time in the warm-up, so timed once on a {SLOW_EXCERPT_S} s excerpt.")
    table.notes += [f"left out: {m}" for m in missing]
    show(table, tables)

    if not baselines:
        return
    ratio = Table("Speed ratio, nsc / baseline (above 1: nsc faster)", describe(" and ".join(map(str, threads))),
                  ["codec", "threads"] + [f"{k} vs {b}" for b in baselines for k in ("enc", "dec")])
    for name in names:
        for t in threads:
            e, d = speeds[name, t]
            ratios = [v for be, bd in baselines.values() for v in (e / be, d / bd)]
            ratio.rows.append([labels[name], str(t)] + [fx(v) for v in ratios])
    show(ratio, tables)


def bench_folder(labels: dict[str, str], audio: np.ndarray, n_files: int, env: dict, work: Path,
                 tables: list[Table]) -> None:
    from nsc.engine import DEFAULT_BATCH_SIZE_CPU

    default_batch = DEFAULT_BATCH_SIZE_CPU  # these runs use --device cpu
    folder = work / "folder"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    long = np.resize(audio, max(len(audio), 11 * RATE))
    total_s = 0.0
    for i in range(n_files):
        n = int(rng.uniform(2.0, 10.0) * RATE)
        start = int(rng.integers(0, len(long) - n))
        sf.write(folder / f"utt{i:03d}.wav", long[start : start + n], RATE, subtype="PCM_16")
        total_s += n / RATE

    table = Table(f"Folder throughput: nsc encode DIR -o OUT, {n_files} files of 2-10 s ({total_s / 60:.1f} min)",
                  describe(CLI_THREADS), ["codec", "batch size", "wall s", "files/s", "audio h/h"])
    for name, label in labels.items():
        for batch in (1, 8):
            out = work / "folder-out"
            shutil.rmtree(out, ignore_errors=True)
            wall, _ = run_cli(["encode", str(folder), "-o", str(out), "-c", name, "--device", "cpu",
                               "--batch-size", str(batch), "--force", "--quiet"], env)
            tag = f"{batch} (CPU default)" if batch == default_batch else f"{batch}"
            table.rows.append([label, tag, f"{wall:.1f}", f"{n_files / wall:.2f}", fx(total_s / wall)])
    table.machine = describe(CLI_THREADS)  # load average over the runs just done
    table.notes = [f"16 kHz WAV in (resampled by nsc for 8 kHz codecs); wall time includes Python start-up and "
                   f"model loading; torch's default {CLI_THREADS} thread(s) per process."]
    show(table, tables)


def bench_hour(labels: dict[str, str], audio: np.ndarray, hour_s: float, env: dict, work: Path,
               tables: list[Table]) -> None:
    src = work / "long.wav"
    with sf.SoundFile(src, "w", samplerate=RATE, channels=1, subtype="PCM_16") as f:
        left = int(hour_s * RATE)
        while left > 0:  # block by block: never the whole hour in memory here
            f.write(audio[:left])
            left -= min(left, len(audio))
    what = "1-hour" if hour_s == 3600 else f"{hour_s:g} s"
    table = Table(f"Peak resident memory, {what} file through nsc encode / nsc decode",
                  describe(CLI_THREADS), ["codec", "encode MiB", "encode speed", "decode MiB", "decode speed"])
    for name, label in labels.items():
        coded, decoded = work / "long.nsc", work / "long.out.wav"
        enc_s, enc_mib = run_cli(["encode", str(src), "-o", str(coded), "-c", name, "--device", "cpu", "-f", "-q"], env)
        dec_s, dec_mib = run_cli(["decode", str(coded), "-o", str(decoded), "--device", "cpu", "-f", "-q"], env)
        table.rows.append([label, f"{enc_mib:.0f}", fx(hour_s / enc_s), f"{dec_mib:.0f}", fx(hour_s / dec_s)])
        decoded.unlink(missing_ok=True)
    table.machine = describe(CLI_THREADS)
    table.notes = ["peak RSS (VmHWM) of each CLI process; speed includes start-up; CLI default batch size."]
    show(table, tables)


def bench_gpu(names: list[str], audio: np.ndarray, segment_s: float, repeats: int, tables: list[Table]) -> None:
    if not torch.cuda.is_available():
        show(Table("GPU batch throughput", describe(), [], notes=["no GPU on this machine"]), tables)
        return
    table = Table(f"GPU batch throughput, {segment_s:g} s segments (x real time, best of {repeats})",
                  describe(), ["codec"] + [f"{k} B={b}" for b in GPU_BATCHES for k in ("encode", "decode")])
    for name in names:
        codec, label = load(name, device="cuda")
        seg = torch.from_numpy(at_rate(np.resize(audio, int(segment_s * RATE)), codec.sample_rate))
        n_codebooks = codec.spec.default_n_codebooks
        row = [label]
        for b in GPU_BATCHES:
            x = seg.view(1, 1, -1).repeat(b, 1, 1).cuda()
            codes = codec.encode(x, n_codebooks)  # warm-up; .cpu() inside waits for the GPU
            codec.decode(codes)
            enc = best_of(lambda: codec.encode(x, n_codebooks), repeats)
            dec = best_of(lambda: codec.decode(codes), repeats)
            row += [fx(b * segment_s / enc), fx(b * segment_s / dec)]
        table.rows.append(row)
        del codec
        torch.cuda.empty_cache()
    table.notes = ["Codec.encode/decode on device cuda, codes copied back to the CPU (included)."]
    show(table, tables)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--codecs", default=",".join(CODECS), help="comma-separated codec names (default: all shipped)")
    p.add_argument("--seconds", type=float, default=60.0, help="length of the one-file speed test (s)")
    p.add_argument("--files", type=int, default=100, help="files in the folder-throughput test")
    p.add_argument("--hour", action=argparse.BooleanOptionalAction, default=True,
                   help="run the slow long-file peak-memory test (default: on)")
    p.add_argument("--hour-seconds", type=float, default=3600.0, help="length of that long file (s)")
    p.add_argument("--parts", default=",".join(PARTS), help="comma-separated parts to run (default: all)")
    p.add_argument("--quick", action="store_true", help="one run per figure instead of the best of 3")
    p.add_argument("--markdown", type=Path, metavar="OUT.md", help="also write the tables as Markdown")
    p.add_argument("--workdir", type=Path, help="folder for the test files (default: a temporary one, removed)")
    args = p.parse_args(argv)

    names = [n.strip() for n in args.codecs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CODECS]
    if unknown:
        p.error(f"unknown codec(s) {', '.join(unknown)}; shipped: {', '.join(CODECS)}")
    parts = [x.strip() for x in args.parts.split(",") if x.strip()]
    if not set(parts) <= set(PARTS):
        p.error(f"unknown part(s) {', '.join(sorted(set(parts) - set(PARTS)))}; parts: {', '.join(PARTS)}")
    repeats = 1 if args.quick else 3
    tmp = None if args.workdir else tempfile.TemporaryDirectory(prefix="nsc-bench-")
    work = args.workdir or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)

    started = time.perf_counter()
    audio, origin = source_audio(args.seconds)
    print(f"nsc codec benchmark: {', '.join(names)}\nmachine: {describe()}\n", flush=True)
    tables: list[Table] = []
    if "speed" in parts:
        bench_speed(names, audio, origin, repeats, tables)
    env, labels = cli_env(names, work)
    if "folder" in parts:
        bench_folder(labels, audio, args.files, env, work, tables)
    if "hour" in parts and args.hour:
        bench_hour(labels, audio, args.hour_seconds, env, work, tables)
    elif "hour" in parts:
        print("== Peak resident memory ==\nskipped (--no-hour)\n", flush=True)
    if "gpu" in parts:
        bench_gpu(names, audio, min(10.0, args.seconds), repeats, tables)
    print(f"total benchmark time {time.perf_counter() - started:.0f} s; load average now {os.getloadavg()[0]:.2f}")

    if args.markdown:
        args.markdown.write_text("\n".join(t.markdown() for t in tables))
        print(f"wrote {args.markdown}")
    if tmp:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
