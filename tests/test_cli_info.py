"""`nsc info`: header fields, bitrates, integrity, JSON, errors."""

from __future__ import annotations

import json

from conftest import run_nsc, write_wav

from nsc import container


def _encoded(tmp_path, seconds=5.0):
    src = write_wav(tmp_path / "a.wav", seconds, 16000, channels=2)
    assert run_nsc("encode", src, "-c", "test-tiny", "-q").exit_code == 0
    return tmp_path / "a.nsc"


def test_info_text_and_json(tmp_path, tiny_weights, tiny_codec):
    f = _encoded(tmp_path)
    r = run_nsc("info", f)
    assert r.exit_code == 0, r.stderr
    for text in ["test-tiny (wire id 250)", tiny_codec.fingerprint.hex(), "5.000 s", "16000 Hz", "2 channels",
                 "1.2 kbit/s nominal", "whole file", "every packet passes"]:
        assert text in r.stdout, text
    r = run_nsc("info", f, "--json")
    assert r.exit_code == 0
    [d] = json.loads(r.stdout)
    assert d["codec"] == "test-tiny" and d["n_codebooks"] == 3 and d["input_channels"] == 2
    assert d["n_samples"] == 80000 and d["duration_s"] == 5.0 and d["intact"] is True
    assert d["weights_fingerprint"] == tiny_codec.fingerprint.hex()
    assert d["payload_kbps"] == 1.2 and d["file_kbps"] > 1.2 and d["file_bytes"] == f.stat().st_size
    assert d["n_packets"] == 2 and d["packets_ok"] == 2 and d["damaged"] == []


def test_info_reports_damage_and_errors(tmp_path, tiny_weights):
    f = _encoded(tmp_path)
    data = bytearray(f.read_bytes())
    p = container.inspect(bytes(data)).packets[0]
    data[p.offset + 9] ^= 1
    f.write_bytes(bytes(data))
    (tmp_path / "junk.nsc").write_bytes(b"\x00" * 10)
    r = run_nsc("info", f, tmp_path / "junk.nsc", tmp_path / "missing.nsc", "--json")
    assert r.exit_code == 1
    d = json.loads(r.stdout)
    assert d[0]["intact"] is False and d[0]["damaged"][0]["index"] == 0 and "CRC" in d[0]["damaged"][0]["error"]
    assert "error" in d[1] and "error" in d[2]
    assert "junk.nsc" in r.stderr and "missing.nsc" in r.stderr and "Traceback" not in r.stderr
    r = run_nsc("info", f)
    assert r.exit_code == 1 and "damaged" in r.stdout and "packet 0" in r.stdout
