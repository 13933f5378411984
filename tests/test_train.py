"""`nsc train`: recipes and overrides, a few real steps, checkpoint/resume, and DDP with gloo."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from nsc.cli import app
from nsc.train.config import RECIPES_DIR, apply_overrides, load_config

REPO = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    """Six synthetic 'speakers' at mixed sample rates, four train and two valid."""
    root = tmp_path_factory.mktemp("speech")
    rows = []
    rng = np.random.default_rng(0)
    for i, sr in enumerate([16000, 22050, 8000, 16000, 32000, 16000]):
        t = np.arange(int(1.5 * sr)) / sr
        f0 = 110 + 20 * i
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * 0.1 + 0.005 * rng.standard_normal(t.size)
        path = f"spk{i}/utt{i}.flac"
        (root / f"spk{i}").mkdir()
        sf.write(root / path, x.astype(np.float32), sr)
        rows.append({"path": path, "source": "synth", "speaker": f"spk{i}", "language": "xx", "sample_rate": sr,
                     "seconds": 1.5, "split": "valid" if i >= 4 else "train"})
    with open(root / "manifest.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return root / "manifest.csv"


def _sets(manifest: Path, out: Path, steps: int) -> list[str]:
    opts = {
        "data.manifest": str(manifest), "data.batch_size": 2, "data.segment_s": 0.2, "model.preset": "tiny",
        "run.out_dir": str(out), "run.max_steps": steps, "run.valid_every_steps": steps, "run.valid_files": 1,
        "run.log_every_steps": 1, "run.threads": 1, "loss.gan_start_step": 2, "loss.disc_width": 2,
        "optim.warmup_steps": 1, "loss.complex": 1.0, "loss.periodicity": 1.0,
    }
    args = []
    for k, v in opts.items():
        args += ["--set", f"{k}={json.dumps(v) if isinstance(v, str) else v}"]
    return args


def test_packaged_recipes_load_and_name_their_codec():
    names = sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))
    assert names == ["hificodec-16k", "mscacodec-nb", "mscacodec-wb", "srcodec-16k"]
    for n in names:
        assert load_config(n).codec == n


def test_overrides_parse_toml_values_and_reject_unknown_keys():
    d = apply_overrides({}, ["optim.lr=3e-4", "run.out_dir=runs/x", "model.preset=\"paper\"", "run.amp=false"])
    assert d == {"optim": {"lr": 3e-4}, "run": {"out_dir": "runs/x", "amp": False}, "model": {"preset": "paper"}}
    with pytest.raises(ValueError, match="unknown setting"):
        load_config("mscacodec-nb", ["optim.lrr=1"])
    with pytest.raises(ValueError, match="key=value"):
        load_config("mscacodec-nb", ["optim.lr"])


def test_train_writes_checkpoint_and_weights_then_resumes(manifest, tmp_path):
    runner = CliRunner()
    out = tmp_path / "run"
    r = runner.invoke(app, ["train", "mscacodec-nb", "--device", "cpu", "--quiet", *_sets(manifest, out, 3)])
    assert r.exit_code == 0, r.output
    ck = torch.load(out / "last.ckpt", weights_only=False)
    assert ck["step"] == 3 and ck["config"]["codec"] == "mscacodec-nb"
    assert ck["config"]["model"]["preset"] == "tiny"
    assert (out / "best.safetensors").exists() and (out / "last.safetensors").exists()
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert any("adv" in rec for rec in log)  # discriminators started at step 2
    assert all("complex" in rec and "periodicity" in rec for rec in log if "mel" in rec)  # optional terms are on
    vrec = next(rec for rec in log if "valid" in rec)
    valid = vrec["valid"]
    assert (vrec["files"], vrec["max_s"]) == (1, 8.0)  # the subset is in the log, for cards and plots
    assert {"pesq@3", "stoi@6"} <= set(valid)
    mels = [valid[f"mel@{n}"] for n in range(1, 7)]  # the per-codebook-count check, every count offered
    assert all(np.isfinite(mels)) and len(set(mels)) > 1
    # the resumed run keeps the checkpoint's settings (tiny model, manifest, out_dir...): only --set changes them
    r = runner.invoke(app, ["train", "mscacodec-nb", "--device", "cpu", "--quiet", "--resume", str(out / "last.ckpt"),
                            "--set", "run.max_steps=5"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    ck = torch.load(out / "last.ckpt", weights_only=False)
    assert ck["step"] == 5 and ck["config"]["model"]["preset"] == "tiny"
    assert ck["config"]["run"]["max_steps"] == 5 and ck["config"]["loss"]["periodicity"] == 1.0
    steps = [rec["step"] for rec in map(json.loads, (out / "log.jsonl").read_text().splitlines()) if "mel" in rec]
    assert steps == [1, 2, 3, 4, 5]  # the same log, continued
    # another codec's recipe, or a file that is no checkpoint: one-line usage errors, nothing trained
    r = runner.invoke(app, ["train", "mscacodec-wb", "--resume", str(out / "last.ckpt")])
    assert r.exit_code == 2 and "trains mscacodec-nb" in r.output
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes((out / "last.ckpt").read_bytes()[:1000])
    r = runner.invoke(app, ["train", "mscacodec-nb", "--resume", str(bad)])
    assert r.exit_code == 2 and "not a readable nsc training checkpoint" in r.output


def test_exported_weights_load_as_a_codec(manifest, tmp_path):
    from nsc.codec import load_codec

    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", "srcodec-16k", "--device", "cpu", "--quiet", *_sets(manifest, out, 2)])
    assert r.exit_code == 0, r.output
    codec = load_codec("srcodec-16k", weights=str(out / "last.safetensors"))
    codes = codec.encode(torch.zeros(1, 1, 640), 2)
    assert codes.shape == (1, 2, 2)


def test_train_usage_errors_exit_2(tmp_path):
    runner = CliRunner()
    assert runner.invoke(app, ["train", "no-such-recipe"]).exit_code == 2
    assert runner.invoke(app, ["train", "mscacodec-nb", "--set", "bogus"]).exit_code == 2
    assert runner.invoke(app, ["train", "mscacodec-nb", "--resume", str(tmp_path / "missing.ckpt")]).exit_code == 2
    # settings that cannot train fail before any data is read, in one line, with nothing written
    out = tmp_path / "run"
    for setting, message in [("optim.lr=abc", "optim.lr expects a number"), ("run.amp=1", "run.amp expects true or false"),
                             ("model.preset=huge", "unknown MSCACodec preset"),
                             (f"run.init_from={tmp_path / 'none.safetensors'}", "not found"),
                             ("run.init_from=mscacodec-wb", "does not fit the model")]:
        r = runner.invoke(app, ["train", "mscacodec-nb", "--set", setting, "--set", f"run.out_dir={out}"])
        assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, (setting, r.output)
    assert not out.exists()


def test_settings_are_type_checked():
    assert load_config("mscacodec-nb", ["optim.lr=1", "run.out_dir=2026"]).optim.lr == 1.0
    assert load_config("mscacodec-nb", ["run.out_dir=2026"]).run.out_dir == "2026"
    assert load_config("mscacodec-nb", ["optim.betas=[0.5, 0.9]"]).optim.betas == (0.5, 0.9)
    for bad in ["run.threads=1.5", "run.max_steps=true", "optim.betas=0.5", "run.n_codebooks=3"]:
        with pytest.raises(ValueError, match="expects"):
            load_config("mscacodec-nb", [bad])


def test_torchrun_two_cpu_processes_with_gloo(manifest, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
           "-m", "nsc", "train", "mscacodec-nb", "--device", "cpu", "--quiet", *_sets(manifest, out, 3)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert torch.load(out / "last.ckpt", weights_only=False)["step"] == 3


def test_sigterm_saves_a_checkpoint_before_stopping(manifest, tmp_path):
    import signal
    import time

    out = tmp_path / "term"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    args = _sets(manifest, out, 100000)
    args += ["--set", "loss.gan_start_step=1000000", "--set", "run.valid_files=0", "--set", "run.checkpoint_every_s=1e9"]
    p = subprocess.Popen([sys.executable, "-m", "nsc", "train", "mscacodec-nb", "--device", "cpu", "--quiet", *args],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "log.jsonl").exists() and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1, err[-1000:]
    assert "resume" in err
    assert torch.load(out / "last.ckpt", weights_only=False)["step"] >= 1


def test_ablation_recipes_share_one_backbone_at_about_1_kbps():
    from nsc.codec import build_model
    from nsc.models.blocks import MSRCAM, TCGRU
    from nsc.registry import get_spec
    from nsc.train.loop import _init_path, select_state
    from nsc.weights import load_weights

    kinds, rates = set(), []
    for path in sorted((RECIPES_DIR / "ablation").glob("*.toml")):
        cfg = load_config(path)
        spec = get_spec(cfg.codec)
        m = build_model(spec, cfg.model)
        assert any(isinstance(b, MSRCAM) for b in m.encoder.modules())
        assert any(isinstance(b, TCGRU) for b in m.decoder.modules())
        kinds.add(type(m.quantizer).__name__)
        state, _ = load_weights(_init_path(cfg.run.init_from), verify=True)  # every arm warm-starts the same backbone
        assert select_state(m, state, cfg.run.init_only).keys() == {
            k for k in m.state_dict() if k.startswith(("encoder.", "decoder."))}
        n = cfg.run.n_codebooks[0] if cfg.run.n_codebooks else spec.default_n_codebooks
        rates.append(spec.bitrate_kbps(n))
    assert kinds == {"ResidualVQ", "GroupResidualVQ", "SplitResidualVQ"}
    assert all(0.9 <= r <= 1.0 for r in rates), rates


def test_partial_init_takes_the_backbone_and_leaves_a_new_quantizer_fresh():
    from nsc.codec import build_model
    from nsc.registry import get_spec
    from nsc.train.loop import select_state

    torch.manual_seed(0)
    rvq = build_model(get_spec("mscacodec-wb"), {"preset": "tiny"})
    torch.manual_seed(1)
    backbone = {"preset": "tiny", "backbone": "msrcam-tcgru", "bottleneck_hidden": 8}  # as mscacodec tiny
    srvq = build_model(get_spec("srcodec-16k"), backbone)
    kept = select_state(srvq, rvq.state_dict(), ["encoder.", "decoder."])
    assert kept and all(k.startswith(("encoder.", "decoder.")) for k in kept)
    fresh_q = {k: v.clone() for k, v in srvq.state_dict().items() if k.startswith("quantizer.")}
    assert fresh_q
    srvq.load_state_dict(kept, strict=False)
    after = srvq.state_dict()
    assert all(torch.equal(after[k], rvq.state_dict()[k]) for k in kept)
    assert all(torch.equal(after[k], v) for k, v in fresh_q.items())
    other = build_model(get_spec("srcodec-16k"), {"preset": "tiny", "backbone": "msrcam-tcgru"})
    with pytest.raises(ValueError, match="differ"):  # its TCGRU is a different width
        select_state(other, rvq.state_dict(), ["encoder.", "decoder."])


def test_model_card_compares_at_its_rate_and_reports_codebook_usage(tmp_path, monkeypatch):
    from nsc.train import export

    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)

    def row(system, codec, kind, sr, kbps):
        return {"system": system, "codec": codec, "kind": kind, "sample_rate": sr, "nominal_kbps": kbps,
                "payload_kbps": kbps, "file_kbps": kbps * 1.05, "pesq": 1.5, "pesq_mode": "wb" if sr == 16000 else "nb",
                "stoi": 0.8, "visqol": 2.0, "lsd_db": 9.0}

    summary = {"summary": [row("srcodec-16k 0.95k", "srcodec-16k", "nsc", 16000, 0.95),
                           row("mscacodec-wb 1.5k", "mscacodec-wb", "nsc", 16000, 1.5),
                           row("opus-wb 8k", "opus-wb", "baseline", 16000, 8.0),
                           row("codec2 1200", "codec2", "baseline", 8000, 1.2)],
               "codebook_usage": {"srcodec-16k 0.95k": [{"size": 512, "utilisation": 0.5, "perplexity": 100.0},
                                                        {"size": 1024, "utilisation": 0.25, "perplexity": 200.0}]}}
    meta = {"config": {"preset": "cpu"}, "parameters": 2_000_000, "step": 1234}
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"step": 400, "valid": {"pesq@2": 1.2, "stoi@2": 0.6, "mel@2": 2.5}, "files": 8,
                               "max_s": 8.0}) + "\n"
                   + json.dumps({"step": 9999, "valid": {"pesq@2": 9.0, "stoi@2": 0.9}}) + "\n")
    card = export.write_model_card("srcodec-16k", meta, summary, "1 CPU thread", 1.5, "as is", log_path=log).read_text()
    assert "| step | pesq@2 | stoi@2 | mel loss at 1, 2, ... codebooks |" in card
    assert "(fixed subset of the valid split, first 8 s of 8 files)" in card
    assert "| 400 | 1.200 | 0.600 | 2.50 |" in card and "9999" not in card  # curve stops at the shipped step
    assert "| mscacodec-wb 1.5k |" in card and "| opus-wb 8k |" in card and "codec2 1200" not in card
    assert "| srcodec-16k 0.95k | 50 % / 100 of 512, 25 % / 200 of 1024 |" in card
    assert "quantizer dropout" not in card  # one bitrate only
    assert "no postfilter by default" in card and "the evaluation below decoded" not in card  # its notes do not say
    assert "searches the quantizer greedily" in card and "the evaluation below encoded" not in card
    summary["notes"] = ["srcodec-16k: decoded without the postfilter", "srcodec-16k: encoded with beam width 1 (greedy)",
                        "mscacodec-nb: encoded with beam width 4"]
    card = export.write_model_card("srcodec-16k", meta, summary, "1 CPU thread", 1.5, "as is.", log_path=log).read_text()
    assert "the evaluation below decoded without it" in card
    assert "; the evaluation below encoded with beam width 1 (greedy).\n" in card and "width 4" not in card
    assert "- Recipe `nsc/train/recipes/srcodec-16k.toml` as is.\n" in card  # a copied note's full stop not doubled
    assert "`cpu` 2.13 M parameters (sized for 2 CPU cores; these weights" in card and "`paper` " in card
    assert card.splitlines()[2].startswith(get_spec_summary("srcodec-16k"))


def test_model_card_states_the_decoding_arithmetic(tmp_path, monkeypatch):
    """A model with MSR-CAM blocks in its decoder says where they run in bfloat16, and what the evaluation used."""
    from nsc.train import export

    monkeypatch.setattr(export, "WEIGHTS_DIR", tmp_path)
    meta = {"config": {"preset": "tiny"}, "parameters": 60_000, "step": 10}
    notes = {"notes": ["mscacodec-nb: decoded with its MSR-CAM blocks in bfloat16", "hificodec-16k: decoded in float32"]}
    card = export.write_model_card("mscacodec-nb", meta, notes, "1 CPU thread", 0.1, "as is").read_text()
    line = next(l for l in card.splitlines() if l.startswith("- Arithmetic: "))
    assert "the encoder computes in float32" in line and "`--precision float32` forces float32" in line
    assert line.endswith("; the evaluation below was decoded with its MSR-CAM blocks in bfloat16.")
    card = export.write_model_card("mscacodec-nb", meta, {}, "1 CPU thread", 0.1, "as is").read_text()
    assert "the evaluation below was decoded" not in card
    card = export.write_model_card("hificodec-16k", meta, notes, "1 CPU thread", 0.1, "as is").read_text()
    assert "- Arithmetic: float32 throughout (weights stored as float16).\n" in card


def test_model_card_speed_says_when_the_log_lost_the_early_losses():
    """A lineage log keeps the early runs' validation points only: the median speed names its first step."""
    from nsc.train.export import _speed_note

    early = [{"step": 400, "valid": {"pesq@3": 1.3}}, {"step": 33554, "valid": {"pesq@3": 1.8}}]
    late = [{"step": s, "minutes": s / 60, "steps_per_s": r} for s, r in ((33604, 0.5), (33654, 0.6), (33704, 0.7))]
    assert _speed_note(early + late, 40000) == " Median 0.60 training steps/s (logged from step 33604)."
    whole = [{"step": 50, "minutes": 1.0, "steps_per_s": 1.5}, {"step": 400, "valid": {"pesq@3": 1.3}}]
    assert _speed_note(whole, 40000) == " Median 1.50 training steps/s."
    assert _speed_note(early, 40000) == ""


def get_spec_summary(name: str) -> str:
    from nsc.registry import get_spec

    return get_spec(name).summary


def test_complex_stft_loss_sees_phase_that_magnitude_losses_miss():
    from nsc.train.losses import CompressedComplexSTFTLoss, MultiResolutionSTFTLoss

    t = torch.arange(16000) / 16000
    x = (0.3 * torch.sin(2 * torch.pi * 220 * t) * (1 + torch.sin(2 * torch.pi * 3 * t))).reshape(1, 1, -1)
    shifted = torch.roll(x, 4, dims=-1)  # same magnitudes, a quarter-period-ish phase change at 220 Hz
    cplx, mag = CompressedComplexSTFTLoss(16000), MultiResolutionSTFTLoss(16000)
    assert cplx(x, x).item() == pytest.approx(0.0, abs=1e-6)
    # relative to a 1 % gain error, a 4-sample shift costs the complex loss ~1000x, the magnitude loss ~10x
    cplx_ratio = cplx(shifted, x).item() / cplx(1.01 * x, x).item()
    mag_ratio = mag(shifted, x).item() / mag(1.01 * x, x).item()
    assert cplx_ratio > 50 * mag_ratio, (cplx_ratio, mag_ratio)


def _harmonic(f0: float, sample_rate: int = 8000, seconds: float = 1.0) -> torch.Tensor:
    t = torch.arange(int(sample_rate * seconds)) / sample_rate
    return (0.3 * sum(torch.sin(2 * torch.pi * k * f0 * t) / k for k in range(1, 15))).reshape(1, 1, -1)


def test_periodicity_loss_tells_the_period_and_noise_apart():
    from nsc.train.losses import PeriodicityLoss

    torch.manual_seed(0)
    loss = PeriodicityLoss(8000)
    x = _harmonic(120.0)
    # noise shaped to the vowel's envelope (its spectrum smoothed over 240 Hz, two harmonics): no harmonics left
    env = torch.nn.functional.avg_pool1d(torch.fft.rfft(x).abs(), 241, stride=1, padding=120)
    noise = torch.fft.irfft(env * torch.exp(2j * torch.pi * torch.rand(env.shape)), x.shape[-1])
    assert loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(1.5 * x, x).item() < 1e-4  # gain-blind: normalised by r(0)
    assert loss(noise, x).item() > 0.2 and loss(noise, x).item() > 20 * loss(1.01 * x, x).item()
    assert loss(_harmonic(120.0 * 2 ** (2 / 12)), x).item() > 0.2  # two semitones off
    y = noise.clone().requires_grad_()
    loss(y, x).backward()
    assert torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0


def test_periodicity_peak_term_prefers_a_wrong_period_to_no_period():
    from nsc.train.losses import PeriodicityLoss

    torch.manual_seed(0)
    x, off_pitch = _harmonic(120.0), _harmonic(135.0)
    noise = 0.1 * torch.randn_like(x)
    plain, peaked = PeriodicityLoss(8000), PeriodicityLoss(8000, peak_weight=1.0)
    assert peaked(off_pitch, x).item() == pytest.approx(plain(off_pitch, x).item(), abs=0.01)  # both peak near 1
    assert peaked(noise, x).item() > plain(noise, x).item() + 0.5  # noise has no peak: the term adds ~0.8
    assert peaked(noise, x).item() > 2 * peaked(off_pitch, x).item()


def test_periodicity_loss_ignores_silent_frames_and_rejects_bad_ranges():
    from nsc.train.losses import PeriodicityLoss

    loss = PeriodicityLoss(8000)
    x = torch.cat([_harmonic(150.0, seconds=0.5), torch.zeros(1, 1, 4000)], dim=-1)
    y = x.clone()
    y[..., 4400:] = 1e-6 * torch.randn(3600)  # differs only where the reference is silent
    assert loss(y, x).item() < 1e-4
    with pytest.raises(ValueError, match="f0_min"):
        PeriodicityLoss(8000, f0_min=500.0, f0_max=400.0)
    with pytest.raises(ValueError, match="at least 400 samples"):
        loss(x[..., :300], x[..., :300])


def test_export_append_run_checks_its_inputs_before_writing_anything(tmp_path):
    """A bad --append-run stops the export before the weights or the lineage are touched."""
    import subprocess
    import sys

    from nsc.weights import MANIFEST

    lineage = tmp_path / "lineage.jsonl"
    lineage.write_text('{"step": 1, "valid": {}}\n')
    manifest = MANIFEST.read_bytes()
    cmd = [sys.executable, "-m", "nsc.train.export", str(tmp_path / "w.safetensors"), "mscacodec-nb"]
    for extra, message in ((["--append-run", str(tmp_path / "log.jsonl")], "needs --log"),
                           (["--log", str(lineage), "--append-run", str(tmp_path / "log.jsonl")], "not found")):
        r = subprocess.run(cmd + extra, capture_output=True, text=True)
        assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert lineage.read_text() == '{"step": 1, "valid": {}}\n'
    assert MANIFEST.read_bytes() == manifest


def test_export_candidate_counts_steps_on_and_leaves_the_package_alone(manifest, tmp_path):
    """--candidate writes float16 weights elsewhere, step shifted by --base-step; the package stays as it was."""
    import subprocess
    import sys

    from safetensors import safe_open

    from nsc.codec import load_codec
    from nsc.weights import MANIFEST, WEIGHTS_DIR

    out = tmp_path / "run"
    r = CliRunner().invoke(app, ["train", "srcodec-16k", "--device", "cpu", "--quiet", *_sets(manifest, out, 2)])
    assert r.exit_code == 0, r.output
    packaged = {p.name: p.read_bytes() for p in WEIGHTS_DIR.iterdir()}
    cand = tmp_path / "cand.safetensors"
    cmd = [sys.executable, "-m", "nsc.train.export", str(out / "last.ckpt"), "srcodec-16k", "--candidate", str(cand),
           "--base-step", "100"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    with safe_open(str(cand), framework="pt") as f:
        assert f.metadata()["step"] == "102"
        assert {f.get_tensor(k).dtype for k in f.keys() if f.get_tensor(k).is_floating_point()} == {torch.float16}
    assert load_codec("srcodec-16k", weights=str(cand)).encode(torch.zeros(1, 1, 640), 2).shape == (1, 2, 2)
    assert {p.name: p.read_bytes() for p in WEIGHTS_DIR.iterdir()} == packaged and MANIFEST.read_bytes() == packaged[
        MANIFEST.name]
    r = subprocess.run(cmd, capture_output=True, text=True)  # never overwrites a candidate
    assert r.returncode == 2 and "exists" in r.stderr and "Traceback" not in r.stderr
