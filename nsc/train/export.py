"""Ship trained generator weights inside the package, pinned by SHA-256, with a model card.

``python -m nsc.train.export WEIGHTS CODEC [--eval summary.json] [--hardware TEXT] [--hours H] [--card-only]
[--log LINEAGE.jsonl [--append-run RUN/log.jsonl]] [--base-step N] [--candidate OUT.safetensors]``

* re-saves ``WEIGHTS`` (a ``best.safetensors``/``last.safetensors`` or the
  generator of a ``last.ckpt`` written by ``nsc train``) as float16 ``nsc/weights/<codec>.safetensors`` with its config;
* records the file's SHA-256 in ``nsc/weights/manifest.json`` (checked at load);
* writes the model card ``nsc/weights/<codec>.md`` from the weights' metadata,
  the training log and, when given, the ``summary.json`` of an ``nsc eval`` run.
  The card's first paragraph is the summary ``nsc models`` shows.
  ``--card-only`` rewrites the card of the packaged weights (new evaluation
  figures) without writing a new weights blob.
* ``--append-run`` appends a fine-tune's ``log.jsonl`` to the lineage log
  given as ``--log`` (``benchmarks/results/training-logs/<codec>.jsonl``), its
  steps shifted by the packaged weights' step (the step it started from), so the
  card's hours and curves cover the whole lineage without ``--hours``.
* ``--base-step N`` adds N to the step a checkpoint gives (its run's steps): the
  step of the weights a fine-tune started from (``run.init_from``), so the
  shipped step counts from the lineage's start.
* ``--candidate OUT`` writes the float16 weights to ``OUT`` instead, for
  ``nsc eval -w CODEC=OUT``, and changes nothing in the package (no weights,
  manifest, card or lineage).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from safetensors import safe_open

from ..codec import build_model
from ..errors import NscError, WeightsError
from ..registry import get_spec
from ..weights import MANIFEST, WEIGHTS_DIR, load_weights, read_manifest, save_weights
from .curves import append_run, codebook_mels, hours_trained, loss_records, read_log, valid_points, valid_subset

__all__ = ["export_weights", "read_generator", "write_model_card"]

DATA_SUMMARY = """\
Real human speech from `../shared/data/speech` (1.76 h, 1107 files, 317 speakers; English, Persian, Twi),
split by speaker: 16 speakers (5.6 min) are held out as `valid` and never trained on.

| source | language | minutes | licence |
|---|---|---|---|
| LibriSpeech (subset) | en | 60.4 | CC BY 4.0 |
| LJ Speech (32 clips) | en | 3.7 | Public domain |
| CMU ARCTIC (6 utterances) | en | 0.3 | CMU ARCTIC licence (BSD-style) |
| CSTR VCTK (40 utterances) | en | 4.7 | CC BY 4.0 |
| Mozilla Common Voice fa | fa | 27.4 | CC0 1.0 |
| Mozilla Common Voice tw | tw | 9.1 | CC0 1.0 |

Attributions and processing are listed in that folder's README. Augmentation: random 1 s crops,
random gain of +-10 dB, speed perturbation of +-5 %."""


def _header(path: Path) -> dict[str, str]:
    """A weights file's header fields other than its config (step, provenance notes)."""
    with safe_open(str(path), framework="pt") as f:
        return {k: v for k, v in (f.metadata() or {}).items() if k != "config"}


def read_generator(src: Path) -> tuple[dict, dict, dict[str, str]]:
    """Generator weights from a training checkpoint (.ckpt) or a weights file (.safetensors).

    Returns:
        (state dict of float32 tensors, config ``{"codec", "model", ...}``, header fields other
        than the config as strings: a checkpoint gives its run's ``step``, a weights file
        whatever :func:`nsc.weights.save_weights` wrote into it).

    Raises:
        WeightsError: ``src`` is missing or not an nsc checkpoint or weights file.
    """
    src = Path(src)
    if src.suffix != ".ckpt":
        state, config = load_weights(src, verify=False)
        return state, config, _header(src)
    if not src.is_file():
        raise WeightsError(f"checkpoint {src} not found")
    import torch

    try:
        ck = torch.load(src, map_location="cpu", weights_only=False)
        config = {"codec": ck["config"]["codec"], "model": ck["config"]["model"]}
        return ck["model"], config, {"step": str(ck["step"])}
    except Exception as e:  # noqa: BLE001 - pickle/zip/key errors vary; any of them means not ours
        raise WeightsError(f"{src} is not a readable nsc training checkpoint ({type(e).__name__})") from None


def export_weights(src: Path, codec: str, *, base_step: int = 0,
                   dest: Path | None = None) -> tuple[Path, str, dict]:
    """Copy ``src`` into the package as ``codec``'s float16 weights; returns (path, sha256, metadata).

    Args:
        base_step: added to the step ``src`` records (a checkpoint counts its own run's steps).
        dest: write the weights here instead, leaving the package and its manifest as they are
            (a candidate for ``nsc eval -w``).

    Raises:
        WeightsError: ``src`` is unreadable.
        ValueError: the weights were trained for another codec.
    """
    spec = get_spec(codec)
    state, config, meta = read_generator(src)
    if config.get("codec", codec) != codec:
        raise ValueError(f"{src} holds weights for {config['codec']}, not {codec}")
    model = build_model(spec, config.get("model", {}))
    model.load_state_dict(state, strict=True)
    meta = {**meta, "step": str(base_step + int(meta.get("step", 0)))}
    candidate = dest is not None
    dest = Path(dest) if candidate else WEIGHTS_DIR / spec.weights
    sha = save_weights(model.state_dict(), {"codec": codec, "model": model.config}, dest, **meta)
    parameters = sum(p.numel() for p in model.parameters())
    if candidate:
        return dest, sha, {**meta, "parameters": parameters, "config": model.config}
    manifest = read_manifest()
    manifest[spec.weights] = {
        "codec": codec,
        "sha256": sha,
        "parameters": parameters,
        "step": int(meta.get("step", 0)),
    }
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return dest, sha, {**meta, "parameters": parameters, "config": model.config}


def packaged_meta(codec: str) -> dict:
    """What a model card needs from ``codec``'s packaged weights: step, parameters, config, card fields.

    Raises:
        WeightsError: the packaged file is missing or fails its SHA-256 check.
    """
    spec = get_spec(codec)
    path = WEIGHTS_DIR / spec.weights
    _, config = load_weights(path, verify=True)
    return {**_header(path), "parameters": read_manifest()[spec.weights]["parameters"], "config": config.get("model", {})}


def _eval_table(summary: dict, codec: str, sample_rate: int) -> str:
    rows = ["| system | kbit/s (payload / file) | PESQ | STOI | ViSQOL | LSD dB |", "|---|---|---|---|---|---|"]
    for s in summary.get("summary", []):
        if s["sample_rate"] != sample_rate:
            continue

        def f(v, d=2):
            return "-" if v is None else f"{v:.{d}f}"

        rows.append(f"| {s['system']} | {f(s['payload_kbps'], 3)} / {f(s['file_kbps'], 3)} | {f(s['pesq'])} | "
                    f"{f(s['stoi'], 3)} | {f(s['visqol'])} | {f(s['lsd_db'])} |")
    return "\n".join(rows)


def _usage_table(summary: dict, codec: str) -> str:
    """Per-codebook utilisation (share of entries used) and perplexity of ``codec``'s systems."""
    rows = []
    for s in summary.get("summary", []):
        usage = summary.get("codebook_usage", {}).get(s["system"]) if s["kind"] == "nsc" and s["codec"] == codec else None
        if usage:
            cells = ", ".join(f"{u['utilisation'] * 100:.0f} % / {u['perplexity']:.0f} of {u['size']}" for u in usage)
            rows.append(f"| {s['system']} | {cells} |")
    if not rows:
        return ""
    return ("\nCodebook usage on the same files (share of entries used / perplexity, per codebook in wire order):\n\n"
            "| system | codebooks |\n|---|---|\n" + "\n".join(rows) + "\n")


#: How each quantizer orders its indices on the wire (``codes[:, q, f]``).
CODE_LAYOUT = {
    "ResidualVQ": "index q is stage q of one residual chain; the first n indices are the code at n codebooks",
    "GroupResidualVQ": "stage-major: index s x G + g is stage s of group g (G groups, each a slice of the latent); "
                       "the first G indices (one stage per group) are the code at the lower rate",
    "SplitResidualVQ": "index 0 codes the first half of the latent; index 1 codes the second half's residual "
                       "after the dual-attention prediction from the quantized first half",
}


def _speed_note(records: list[dict], upto_step: float) -> str:
    """' Median N steps/s.' from a training log's loss records, or '' when none give a speed.

    A lineage log whose loss records start later than its validation points (the earlier
    runs' losses are lost, ``benchmarks/results/training-logs/``) says from which step.
    """
    losses = [r for r in loss_records(records, upto_step) if "steps_per_s" in r]
    if not losses:
        return ""
    rates = sorted(r["steps_per_s"] for r in losses)
    first_valid = min((r["step"] for r in valid_points(records, upto_step)), default=losses[0]["step"])
    since = f" (logged from step {losses[0]['step']})" if losses[0]["step"] > first_valid else ""
    return f" Median {rates[len(rates) // 2]:.2f} training steps/s{since}."


def _presets_line(spec, shipped: str) -> str:
    """Each preset of the codec's family with its parameter count; which one these weights use."""
    import importlib

    module = importlib.import_module(spec.builder.split(":")[0])
    roles = {"tiny": "tests", "cpu": "sized for 2 CPU cores", "paper": "wider, for GPU machines"}
    parts = []
    for name, preset in getattr(module, "PRESETS", {}).items():
        n = sum(p.numel() for p in build_model(spec, {"preset": name}).parameters())
        role = roles.get(name, "")
        role = f"{role}; these weights" if name == shipped else role
        parts.append(f"`{name}` {n / 1e6:.2f} M parameters ({role}, `{json.dumps(preset, sort_keys=True)}`)")
    return "; ".join(parts) or "none"


def _beam_line(spec, eval_summary: dict | None) -> str:
    """What encoding searches by default, and what the card's evaluation did (from its notes)."""
    from ..eval.runner import beam_text, noted_beam_width

    line = (f"`nsc encode` searches the quantizer with a beam of {spec.beam_width} (`--beam-width 1`: greedy, as in "
            "training)" if spec.beam_width > 1 else "`nsc encode` searches the quantizer greedily (`--beam-width` widens it)")
    width = noted_beam_width((eval_summary or {}).get("notes", []), spec.name)
    if width is not None:
        line += f"; the evaluation below {beam_text(width)}"
    return line


def _postfilter_line(spec, eval_summary: dict | None) -> str:
    """What decoding does by default, and what the card's evaluation did (from its notes)."""
    from ..eval.runner import postfilter_note

    line = ("`nsc decode` applies the postfilter (`nsc/postfilter.py`) by default; `--no-postfilter` gives the "
            "model's raw output" if spec.postfilter else "no postfilter by default (`nsc decode --postfilter` applies one)")
    notes = (eval_summary or {}).get("notes", [])
    for on in (True, False):
        if postfilter_note(spec.name, on) in notes:
            line += f"; the evaluation below decoded {'with' if on else 'without'} it"
    return line


def _precision_line(spec, cfg: dict, eval_summary: dict | None) -> str:
    """The arithmetic encoding and decoding run in, and what the card's evaluation decoded with (from its notes)."""
    from ..eval.runner import noted_precision
    from ..models.blocks import MSRCAM

    decoder = getattr(build_model(spec, cfg), "decoder", None)
    if decoder is None or not any(isinstance(m, MSRCAM) for m in decoder.modules()):
        return "float32 throughout (weights stored as float16)"  # nothing for lower_precision to lower
    line = ("the encoder computes in float32, so the codes do not depend on the decoding precision; `nsc decode "
            "--precision auto` (the default) runs the decoder's MSR-CAM blocks in bfloat16 where the CPU computes "
            "it natively (AVX512-BF16 or AMX), float32 elsewhere, and `--precision float32` forces float32 "
            "(`nsc/models/precision.py`)")
    noted = noted_precision((eval_summary or {}).get("notes", []), spec.name)
    return line + (f"; the evaluation below was {noted}" if noted else "")


def write_model_card(codec: str, meta: dict, eval_summary: dict | None, hardware: str, hours: float | None,
                     recipe_note: str, log_path: Path | None = None) -> Path:
    """Write ``nsc/weights/<codec>.md``; returns its path.

    ``hours`` None means the hours counted in ``log_path`` up to the shipped step
    (summed over resumed launches; 0 without a log). ``recipe_note`` continues the
    card's "Recipe" sentence; its own closing full stops are dropped (the card adds one),
    so a note copied from an earlier card can be given back as it is.
    """
    recipe_note = recipe_note.rstrip().rstrip(".")
    spec = get_spec(codec)
    cfg = meta["config"]
    quantizer = type(build_model(spec, cfg).quantizer).__name__
    rates = ", ".join(f"{spec.bitrate_kbps(n):g} kbit/s ({n} codebooks)" for n in spec.n_codebooks_options)
    curve = ""
    shipped = int(meta.get("step", 0)) or math.inf  # the log may run on past the shipped step
    records = read_log(log_path) if log_path else []
    if hours is None:
        hours = hours_trained(records, shipped)
    lines = valid_points(records, shipped)
    if lines:
        keys = sorted(k for k in lines[-1]["valid"] if not k.startswith("mel@"))
        mel = any(codebook_mels(r["valid"]) for r in lines)

        def mel_cell(v: dict) -> str:  # mel loss at 1, 2, ... codebooks: should fall left to right
            return " / ".join(f"{x:.2f}" for _, x in codebook_mels(v)) or "–"

        head = keys + (["mel loss at 1, 2, ... codebooks"] if mel else [])
        curve = "| step | " + " | ".join(head) + " |\n|---|" + "---|" * len(head) + "\n"
        curve += "\n".join(f"| {r['step']} | " + " | ".join(f"{r['valid'].get(k, float('nan')):.3f}" for k in keys)
                           + (f" | {mel_cell(r['valid'])}" if mel else "") + " |" for r in lines)
    subset = valid_subset(records, shipped)
    subset = f", {subset}" if subset else ""
    headline = ""
    if eval_summary:
        mine = [s for s in eval_summary.get("summary", []) if s["kind"] == "nsc" and s["codec"] == codec]
        headline = " On held-out speakers: " + "; ".join(
            f"{s['nominal_kbps']:g} kbit/s PESQ-{s['pesq_mode'].upper()} {s['pesq']:.2f}, STOI {s['stoi']:.3f}" for s in mine
        ) + "."
    # the first paragraph is also the README's and `nsc models`' summary, so it points at the card by name
    tools = {"codec2": "Codec2", "opus": "Opus"}
    baselines = sorted({tools.get(s["codec"].split("-")[0], s["codec"]) for s in (eval_summary or {}).get("summary", [])
                        if s["kind"] == "baseline" and s["sample_rate"] == spec.sample_rate})
    pointer = (f": `nsc/weights/{codec}.md` compares them with {' and '.join(baselines)} on the same files"
               if baselines else "")
    text = f"""# {codec}

{spec.summary}; {meta['parameters'] / 1e6:.2f} M parameters, {int(meta.get('step', 0))} training steps ({hours:.1f} h on {hardware}).{headline} Early weights, still training{pointer}.

## Model
- Implements: {spec.paper}.
- Sample rate {spec.sample_rate} Hz, hop {spec.hop_length} samples ({spec.frame_rate:g} frames/s); codebooks {' + '.join(str(s) for s in spec.codebook_sizes)}.
- Codes ({quantizer}): {CODE_LAYOUT.get(quantizer, 'see the quantizer docstring')}.
- Bitrates: {rates}.{' One model serves all of them (quantizer dropout).' if len(spec.n_codebooks_options) > 1 else ''}
- Config: `{json.dumps(cfg, sort_keys=True)}`; {meta['parameters']:,} parameters; causal throughout.
- Presets (`model.preset` in the recipe): {_presets_line(spec, cfg.get('preset', 'cpu'))}.
- Weights: float16 safetensors, SHA-256 pinned in `manifest.json`.
- Encoding: {_beam_line(spec, eval_summary)}.
- Decoding: {_postfilter_line(spec, eval_summary)}.
- Arithmetic: {_precision_line(spec, cfg, eval_summary)}.

## Training data
{DATA_SUMMARY}

## Training
- Recipe `nsc/train/recipes/{codec}.toml` {recipe_note}.
- {int(meta.get('step', 0))} steps, {hours:.1f} hours on {hardware}.{_speed_note(records, shipped)}

### Validation during training (fixed subset of the valid split{subset})
{curve or '(none logged)'}

## Evaluation on the whole valid split (held-out speakers), `nsc eval`
{_eval_table(eval_summary, codec, spec.sample_rate) if eval_summary else '(not evaluated yet)'}
{_usage_table(eval_summary, codec) if eval_summary else ''}
## Limitations
- Trained on 1.7 h of read speech; noisy, conversational, or music input is out of domain.
- See the issue tracker's closing notes for what is still being trained.
"""
    path = WEIGHTS_DIR / f"{codec}.md"
    path.write_text(text)
    return path


def main() -> None:
    p = argparse.ArgumentParser(description="Ship trained weights into the package with a model card.")
    p.add_argument("weights", type=Path)
    p.add_argument("codec")
    p.add_argument("--eval", type=Path, help="summary.json of an nsc eval run on the valid split")
    p.add_argument("--hardware", default="2 CPU cores (1 thread), no GPU")
    p.add_argument("--hours", type=float, help="hours trained (default: summed over the launches in --log)")
    p.add_argument("--recipe-note", default="")
    p.add_argument("--log", type=Path, help="the run's log.jsonl")
    p.add_argument("--append-run", type=Path, metavar="RUN_LOG",
                   help="append this fine-tune's log.jsonl to the --log lineage before the card is written, "
                        "steps shifted by the step of the weights packaged before this export")
    p.add_argument("--card-only", action="store_true",
                   help="rewrite only the model card of the packaged weights (WEIGHTS is ignored; no new blob in git)")
    p.add_argument("--base-step", type=int, default=0, metavar="N",
                   help="step of the weights the run started from, added to a checkpoint's step (a weights file "
                        "that already counts from the lineage's start: leave at 0)")
    p.add_argument("--candidate", type=Path, metavar="OUT",
                   help="write the float16 weights to OUT (for nsc eval -w) and change nothing in the package")
    a = p.parse_args()
    if a.candidate:
        if a.card_only or a.append_run:
            p.error("--candidate writes weights only: no --card-only or --append-run")
        if a.candidate.exists():
            p.error(f"{a.candidate} exists; not overwriting it")
        try:
            dest, sha, meta = export_weights(a.weights, a.codec, base_step=a.base_step, dest=a.candidate)
        except (NscError, ValueError) as e:
            p.error(str(e))
        print(f"{dest} sha256 {sha}: {a.codec} step {meta['step']}, not packaged")
        return
    from_step = None
    if a.append_run:  # checked before anything is written: a failed run must not leave a half-extended lineage
        if not a.log:
            p.error("--append-run needs --log (the lineage to append to)")
        if not a.append_run.exists():
            p.error(f"{a.append_run} not found")
        try:
            from_step = int(packaged_meta(a.codec).get("step", 0))  # before export replaces the packaged step
        except NscError as e:
            p.error(str(e))
    if a.card_only:
        meta = packaged_meta(a.codec)
    else:
        dest, sha, meta = export_weights(a.weights, a.codec, base_step=a.base_step)
        print(f"{dest} sha256 {sha}")
    if from_step is not None:  # after the weights are in: re-running a failed export cannot append twice
        try:
            n = append_run(a.log, a.append_run, from_step)
        except (OSError, ValueError) as e:
            p.error(str(e))
        print(f"{a.log}: appended {n} records of {a.append_run}")
    summary = json.loads(a.eval.read_text()) if a.eval else None
    card = write_model_card(a.codec, meta, summary, a.hardware, a.hours, a.recipe_note, a.log)
    print(card)


if __name__ == "__main__":
    main()
