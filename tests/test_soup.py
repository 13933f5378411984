"""Uniform weight averaging of fine-tunes (nsc.train.soup)."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch
from safetensors import safe_open

from nsc.codec import build_model
from nsc.registry import get_spec
from nsc.train.soup import average_states
from nsc.weights import load_weights, save_weights

SPEC = get_spec("mscacodec-nb")
CONFIG = {"preset": "tiny"}


def _state(seed: int) -> dict:
    torch.manual_seed(seed)
    return build_model(SPEC, CONFIG).state_dict()


def test_average_is_the_mean_of_floats_and_keeps_the_first_models_counters():
    a, b = _state(0), _state(1)
    b = {k: v + 7 if not v.is_floating_point() else v for k, v in b.items()}
    soup = average_states([a, b])
    assert soup.keys() == a.keys()
    for k, v in a.items():
        if v.is_floating_point():
            assert torch.allclose(soup[k], (v + b[k]) / 2, atol=1e-7), k
        else:
            assert torch.equal(soup[k], v), k


def test_average_refuses_one_model_and_mismatched_shapes():
    a = _state(0)
    with pytest.raises(ValueError, match="at least two"):
        average_states([a])
    name = next(k for k, v in a.items() if v.is_floating_point() and v.dim() > 1)
    b = dict(a, **{name: torch.zeros(3, 3)})
    with pytest.raises(ValueError, match="shape"):
        average_states([a, b])
    with pytest.raises(ValueError, match="other tensors"):
        average_states([a, {k: v for k, v in a.items() if k != name}])


def _run(*args):
    return subprocess.run([sys.executable, "-m", "nsc.train.soup", *map(str, args)], capture_output=True, text=True)


def test_cli_writes_the_soup_with_its_step_and_never_overwrites(tmp_path):
    paths = []
    for seed, step in [(0, "120"), (1, "150")]:
        paths.append(tmp_path / f"m{seed}.safetensors")
        save_weights(_state(seed), {"codec": SPEC.name, "model": CONFIG}, paths[-1], step=step)
    out = tmp_path / "soup.safetensors"
    r = _run(SPEC.name, *paths, "-o", out, "--base-step", 1000)
    assert r.returncode == 0, r.stderr
    soup, config = load_weights(out, verify=False)
    (a, _), (b, _) = (load_weights(p, verify=False) for p in paths)
    key = next(k for k, v in a.items() if v.is_floating_point() and v.dim() > 1)
    assert torch.equal(soup[key], ((a[key].float() + b[key].float()) / 2).half())
    assert config["model"] == CONFIG
    with safe_open(str(out), "pt") as f:
        assert f.metadata()["step"] == "1150"
    before = out.read_bytes()
    r = _run(SPEC.name, *paths, "-o", out)
    assert r.returncode == 1 and r.stderr.strip().startswith("error:") and "exists" in r.stderr
    assert out.read_bytes() == before


def test_cli_refuses_another_codecs_models_in_one_line(tmp_path):
    paths = []
    for seed in (0, 1):
        paths.append(tmp_path / f"m{seed}.safetensors")
        save_weights(_state(seed), {"codec": SPEC.name, "model": CONFIG}, paths[-1])
    r = _run("mscacodec-wb", *paths, "-o", tmp_path / "x.safetensors")
    assert r.returncode == 1 and "not all mscacodec-wb" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.safetensors").exists()
