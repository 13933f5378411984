"""Reading a training run's ``log.jsonl``: loss records, validation points, hours trained.

``nsc train`` appends one JSON object per line to ``OUT/log.jsonl``:

* loss records every ``run.log_every_steps``: ``{"step", "steps_per_s",
  "minutes", "lr", "mel", "stft", ...}``; ``minutes`` restarts from 0 at each
  launch (a ``--resume`` is a new launch);
* validation records every ``run.valid_every_steps``: ``{"step", "valid":
  {"pesq@N", "stoi@N", "mel@N", ...}, "score", "files", "max_s"}``, where
  ``files`` and ``max_s`` name the fixed valid subset (the first ``max_s``
  seconds of the first ``files`` valid files); logs written before those two
  keys existed lack them.

A lineage log (``benchmarks/results/training-logs/``: the history of shipped
weights, runs appended with ``append_run``) may also carry ``"hours"`` in a
validation record: the wall-clock hours trained up to that step, for runs whose
loss records are lost. ``hours_trained`` counts on from the latest such record.

A resumed run may repeat steps (a checkpoint is older than the last log line);
the later record wins. Model cards, the quantizer ablation and the training
curve plots all read logs through here.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["read_log", "loss_records", "valid_points", "valid_subset", "hours_trained", "codebook_mels", "first_metric",
           "append_run"]


def read_log(path: str | Path) -> list[dict]:
    """All records of a ``log.jsonl`` in file order; [] when the file does not exist.

    Raises:
        ValueError: a line is not JSON (the file is not a training log).
    """
    path = Path(path)
    if not path.exists():
        return []
    out = []
    for i, line in enumerate(path.read_text().splitlines(), 1):
        if line.strip():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                raise ValueError(f"{path}:{i}: not a JSON line") from None
    return out


def _dedupe(records: list[dict], upto_step: float) -> list[dict]:
    by_step: dict[int, dict] = {}
    for r in records:
        if r["step"] <= upto_step:
            by_step[r["step"]] = r  # a resumed run's later record replaces the repeated step
    return [by_step[s] for s in sorted(by_step)]


def loss_records(records: list[dict], upto_step: float = math.inf) -> list[dict]:
    """Loss records (those with ``minutes``), one per step, sorted by step, up to ``upto_step``."""
    return _dedupe([r for r in records if "minutes" in r], upto_step)


def valid_points(records: list[dict], upto_step: float = math.inf) -> list[dict]:
    """Validation records, one per step, sorted by step, up to ``upto_step`` (e.g. the shipped step)."""
    return _dedupe([r for r in records if "valid" in r], upto_step)


def valid_subset(records: list[dict], upto_step: float = math.inf) -> str:
    """Words for the validation subset, e.g. ``"first 8 s of 8 files"``, from the validation records.

    The subset is the one the records up to ``upto_step`` name (``files``, ``max_s``); when they
    name more than one (a lineage whose runs validated differently), each is given with the steps
    it covers. Records from before the keys existed name none: the answer is then ``""``.
    """
    spans: list[list] = []  # [subset words, first step, last step]
    for r in valid_points(records, upto_step):
        if "files" not in r:
            continue
        words = f"first {r['max_s']:g} s of {r['files']} files"
        if spans and spans[-1][0] == words:
            spans[-1][2] = r["step"]
        else:
            spans.append([words, r["step"], r["step"]])
    if len(spans) <= 1:
        return spans[0][0] if spans else ""
    return "; ".join(f"{w} (steps {a}-{b})" if a != b else f"{w} (step {a})" for w, a, b in spans)


def hours_trained(records: list[dict], upto_step: float = math.inf) -> float:
    """Wall-clock hours of training up to ``upto_step``, summed over launches.

    Each launch's ``minutes`` counts from 0, so a drop in ``minutes`` between
    consecutive loss records (file order) starts a new launch. A record with
    ``"hours"`` at a step up to ``upto_step`` (a lineage's earlier runs) is the
    count at its step: only later loss records add to it.
    """
    base_step, base = -math.inf, 0.0
    for r in records:
        if "hours" in r and base_step <= r["step"] <= upto_step:
            base_step, base = r["step"], float(r["hours"])
    total, last = base * 60.0, 0.0
    for r in records:
        if "minutes" not in r or r["step"] > upto_step or r["step"] <= base_step:
            continue
        if r["minutes"] < last:
            total += last
        last = r["minutes"]
    return (total + last) / 60.0


def codebook_mels(valid: dict) -> list[tuple[int, float]]:
    """``[(N, mel loss at N codebooks), ...]`` sorted by N from one validation dict (empty if not logged)."""
    return sorted((int(k[4:]), v) for k, v in valid.items() if k.startswith("mel@"))


def first_metric(valid: dict, name: str) -> float:
    """The value of ``name@N`` for the smallest logged N (e.g. ``pesq@3`` of ``{pesq@3, pesq@6}``); NaN if absent."""
    keys = sorted((int(k.split("@")[1]), k) for k in valid if k.startswith(name + "@"))
    return float(valid[keys[0][1]]) if keys else math.nan


def append_run(lineage: str | Path, run_log: str | Path, from_step: int) -> int:
    """Append a fine-tune's ``log.jsonl`` to a lineage log, its steps shifted by ``from_step``.

    ``from_step`` is the step of the weights the run started from (``run.init_from``
    restarts at step 0). Records are appended in file order, so the run's launches
    stay countable by ``hours_trained``. Returns the number of records appended.

    Raises:
        FileNotFoundError: ``run_log`` does not exist.
        ValueError: ``run_log`` is not a training log, or ``from_step`` is negative.
    """
    run_log = Path(run_log)
    if not run_log.exists():
        raise FileNotFoundError(f"{run_log} not found")
    if from_step < 0:
        raise ValueError(f"from_step must be >= 0, got {from_step}")
    records = read_log(run_log)
    if any("step" not in r for r in records):
        raise ValueError(f"{run_log}: a record has no step; not a training log")
    with open(lineage, "a") as f:
        for r in records:
            f.write(json.dumps({**r, "step": int(r["step"]) + from_step}) + "\n")
    return len(records)
