"""Reading training logs: resumed launches, repeated steps, the shipped-step cut, and the curves script."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

from nsc.train.curves import (append_run, codebook_mels, first_metric, hours_trained, loss_records, read_log,
                              valid_points, valid_subset)

REPO = Path(__file__).parents[1]


def _log(tmp_path: Path) -> Path:
    recs = [
        {"step": 25, "minutes": 1.0, "mel": 4.0},
        {"step": 50, "minutes": 2.0, "mel": 3.0},
        {"step": 50, "valid": {"pesq@3": 1.1, "stoi@3": 0.5, "pesq@6": 1.2, "mel@1": 3.0, "mel@2": 2.5}},
        {"step": 75, "minutes": 3.0, "mel": 2.9},  # killed here; the checkpoint was at step 50
        {"step": 75, "minutes": 1.5, "mel": 2.8},  # resumed launch: minutes restart
        {"step": 100, "minutes": 2.5, "mel": 2.7},
        {"step": 100, "valid": {"pesq@3": 1.3, "stoi@3": 0.6}},
    ]
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    return path


def test_hours_sum_over_launches_and_stop_at_a_step(tmp_path):
    recs = read_log(_log(tmp_path))
    assert hours_trained(recs) == pytest.approx((3.0 + 2.5) / 60)
    assert hours_trained(recs, upto_step=50) == pytest.approx(2.0 / 60)


def test_a_fine_tune_appended_to_a_lineage_counts_on_from_its_recorded_hours(tmp_path):
    lineage = tmp_path / "lineage.jsonl"
    lineage.write_text(json.dumps({"step": 1000, "valid": {"pesq@3": 1.5}, "hours": 4.0}) + "\n")
    assert append_run(lineage, _log(tmp_path), from_step=1000) == 7
    recs = read_log(lineage)
    assert [r["step"] for r in recs] == [1000, 1025, 1050, 1050, 1075, 1075, 1100, 1100]
    assert hours_trained(recs, upto_step=1000) == pytest.approx(4.0)
    assert hours_trained(recs) == pytest.approx(4.0 + (3.0 + 2.5) / 60)  # two launches on top of the base
    assert [p["step"] for p in valid_points(recs)] == [1000, 1050, 1100]
    with pytest.raises(FileNotFoundError):
        append_run(lineage, tmp_path / "missing.jsonl", 0)
    with pytest.raises(ValueError, match=">= 0"):
        append_run(lineage, _log(tmp_path), -1)
    assert len(read_log(lineage)) == 8  # failed appends wrote nothing


def test_repeated_steps_keep_the_later_record(tmp_path):
    recs = read_log(_log(tmp_path))
    assert [r["mel"] for r in loss_records(recs)] == [4.0, 3.0, 2.8, 2.7]
    assert [p["step"] for p in valid_points(recs)] == [50, 100]
    assert [p["step"] for p in valid_points(recs, upto_step=99)] == [50]


def test_metric_helpers(tmp_path):
    v = valid_points(read_log(_log(tmp_path)))[0]["valid"]
    assert codebook_mels(v) == [(1, 3.0), (2, 2.5)]
    assert first_metric(v, "pesq") == 1.1 and math.isnan(first_metric(v, "visqol"))


def test_valid_subset_is_read_from_the_records_and_spans_are_named(tmp_path):
    assert valid_subset(read_log(_log(tmp_path))) == ""  # logs from before the keys existed say nothing
    recs = [{"step": 50, "valid": {}, "files": 8, "max_s": 8.0}, {"step": 100, "valid": {}, "files": 8, "max_s": 8.0},
            {"step": 150, "valid": {}, "files": 12, "max_s": 8.0}]
    assert valid_subset(recs, upto_step=100) == "first 8 s of 8 files"
    assert valid_subset(recs) == "first 8 s of 8 files (steps 50-100); first 8 s of 12 files (step 150)"


def test_missing_log_is_empty_and_a_bad_line_is_an_error(tmp_path):
    assert read_log(tmp_path / "none.jsonl") == []
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"step": 1}\nnot json\n')
    with pytest.raises(ValueError, match="bad.jsonl:2"):
        read_log(bad)


def test_training_curves_script_writes_plot_and_table(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import training_curves

    runs = tmp_path / "runs"
    (runs / "mscacodec-nb").mkdir(parents=True)
    _log(tmp_path).rename(runs / "mscacodec-nb" / "log.jsonl")
    summary = {"summary": [
        {"system": "mscacodec-nb 1.2k", "codec": "mscacodec-nb", "kind": "nsc", "sample_rate": 8000, "pesq": 1.4,
         "stoi": 0.7, "pesq_mode": "nb"},
        {"system": "codec2 1200", "codec": "codec2", "kind": "baseline", "sample_rate": 8000, "pesq": 2.2,
         "stoi": 0.8, "pesq_mode": "nb"},
        {"system": "opus-wb 8k", "codec": "opus-wb", "kind": "baseline", "sample_rate": 16000, "pesq": 2.6,
         "stoi": 0.9, "pesq_mode": "wb"}]}
    png, md = training_curves.plot(["mscacodec-nb"], runs, summary, tmp_path / "curves")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    assert "| 50 | 0.03 | 1.100 | 1.200 | 0.500 | nan | 3.00 / 2.50 |" in text
    assert "codec2 1200 PESQ 2.20" in text and "opus-wb" not in text
    with pytest.raises(FileNotFoundError):
        training_curves.plot(["mscacodec-wb"], runs, None, tmp_path / "x")


def test_training_curves_trial_is_shifted_onto_the_main_run(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import training_curves

    runs = tmp_path / "runs"
    (runs / "mscacodec-nb").mkdir(parents=True)
    _log(tmp_path).rename(runs / "mscacodec-nb" / "log.jsonl")
    trial = tmp_path / "gan"
    trial.mkdir()
    trial.joinpath("log.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"step": 30, "minutes": 6.0, "mel": 2.0},
        {"step": 30, "valid": {"pesq@3": 1.7, "stoi@3": 0.81}}]) + "\n")
    codec, run, from_step, label = training_curves.parse_trial(f"mscacodec-nb={trial}@50:GAN fine-tune")
    assert (codec, run, from_step, label) == ("mscacodec-nb", trial, 50, "GAN fine-tune")
    _, md = training_curves.plot(["mscacodec-nb"], runs, None, tmp_path / "curves", [(codec, run, from_step, label)])
    text = md.read_text()
    # restarted at step 0: shifted to 50 + 30; hours = main run's at step 50 (2 min) + own 6 min
    assert "**Trial: GAN fine-tune** (from step 50" in text
    assert "| 80 | 0.13 | 1.700 | 0.810 |" in text
    with pytest.raises(ValueError, match="CODEC=RUNDIR@FROM_STEP:LABEL"):
        training_curves.parse_trial("mscacodec-nb=runs/x:label")


def test_training_curves_lineage_is_drawn_against_steps(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks"))
    import training_curves

    lineage = tmp_path / "training-logs"
    lineage.mkdir()
    _log(tmp_path).rename(lineage / "mscacodec-nb.jsonl")
    png, md = training_curves.plot(["mscacodec-nb"], tmp_path / "no-runs", None, tmp_path / "lineage", lineage=lineage)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    assert "| step | pesq@3 | pesq@6 |" in text and "| 50 | 1.100 | 1.200 |" in text  # no hours column
    assert "--lineage training-logs" in text
    with pytest.raises(FileNotFoundError, match="mscacodec-wb.jsonl"):
        training_curves.plot(["mscacodec-wb"], tmp_path, None, tmp_path / "x", lineage=lineage)
