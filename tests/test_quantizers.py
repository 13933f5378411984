"""Quantizers: index ranges, encode/decode consistency with the training forward, EMA learning, dropout, M-best search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nsc.quantizers import EMACodebook, GroupResidualVQ, ResidualVQ, SplitResidualVQ, kmeans, sample_n_codebooks
from nsc.quantizers.rvq import beam_search


def _clusters(n: int = 512, dim: int = 8, k: int = 16, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(k, dim, generator=g) * 3
    return centers[torch.randint(0, k, (n,), generator=g)] + 0.05 * torch.randn(n, dim, generator=g)


def test_kmeans_finds_well_separated_clusters():
    torch.manual_seed(0)
    x = _clusters(k=4, n=400)
    c = kmeans(x, 8, iters=20)
    d = torch.cdist(x, c).min(dim=1).values
    assert d.mean() < 0.5


def test_codebook_learns_by_ema_and_replaces_dead_codes():
    torch.manual_seed(0)
    cb = EMACodebook(8, 32, decay=0.9).train()
    x = _clusters(k=16)
    cb(x)
    assert bool(cb.initted)
    # push the data far away: every code becomes dead and must be re-seeded from the batch
    far = x + 100.0
    for _ in range(30):
        q, idx, loss = cb(far)
    assert torch.cdist(far, cb.embed).min(dim=1).values.mean() < 1.0
    assert idx.min() >= 0 and idx.max() < 32


@pytest.mark.parametrize("make", [
    lambda: ResidualVQ(8, 4, 16),
    lambda: GroupResidualVQ(8, 2, 2, 16),
    lambda: SplitResidualVQ(8, (8, 16)),
])
def test_decode_of_encode_equals_training_forward_output(make):
    torch.manual_seed(0)
    q = make().train()
    x = torch.randn(3, 8, 20)
    q(x)  # initialise codebooks
    q.eval()
    out = q(x)
    n = q.n_codebooks
    codes = q.encode(x, n)
    assert codes.shape == (3, n, 20)
    for i, size in enumerate(q.codebook_sizes):
        assert codes[:, i].min() >= 0 and codes[:, i].max() < size
    assert torch.equal(codes, out.codes)
    torch.testing.assert_close(q.decode(codes), out.quantized, atol=1e-5, rtol=1e-5)


@settings(max_examples=25, deadline=None)
@given(n_codebooks=st.integers(1, 4), frames=st.integers(1, 12), seed=st.integers(0, 1000))
def test_rvq_prefix_codes_decode_to_partial_sums(n_codebooks, frames, seed):
    torch.manual_seed(seed)
    q = ResidualVQ(4, 4, 8).eval()
    x = torch.randn(2, 4, frames)
    full = q.encode(x, 4)
    prefix = q.encode(x, n_codebooks)
    assert torch.equal(prefix, full[:, :n_codebooks])
    expected = sum(q.layers[i].lookup(full[:, i]) for i in range(n_codebooks)).permute(0, 2, 1)
    torch.testing.assert_close(q.decode(prefix), expected)


def _trained(q: torch.nn.Module, x: torch.Tensor, steps: int) -> torch.nn.Module:
    """``q`` after ``steps`` training forwards on ``x`` (k-means start, EMA updates), in eval mode."""
    q.train()
    for _ in range(steps):
        q(x)
    return q.eval()


def test_rvq_each_stage_reduces_error_after_training():
    torch.manual_seed(0)
    q = ResidualVQ(8, 4, 32)
    x = torch.randn(4, 8, 64)
    q = _trained(q, x, 20)
    errs = [torch.mean((q.decode(q.encode(x, n)) - x) ** 2).item() for n in range(1, 5)]
    assert all(b < a for a, b in zip(errs, errs[1:])), errs


def test_quantizer_dropout_keeps_inactive_stages_out_of_the_output():
    torch.manual_seed(0)
    q = ResidualVQ(8, 3, 16).train()
    x = torch.randn(2, 8, 10)
    q(x)
    q.eval()
    out = q(x, torch.tensor([1, 3]))
    torch.testing.assert_close(out.quantized[0], q.decode(q.encode(x[:1], 1))[0])
    torch.testing.assert_close(out.quantized[1], q.decode(q.encode(x[1:], 3))[0])


def test_straight_through_gradient_reaches_the_input():
    q = ResidualVQ(4, 2, 8).train()
    x = torch.randn(2, 4, 5, requires_grad=True)
    out = q(x)
    out.quantized.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))


def test_grvq_layout_is_stage_major():
    torch.manual_seed(0)
    q = GroupResidualVQ(8, 2, 2, 16).eval()
    x = torch.randn(1, 8, 6)
    codes = q.encode(x, 4)
    lo, hi = x.chunk(2, dim=1)
    g0, g1 = q.groups[0].encode(lo, 2), q.groups[1].encode(hi, 2)
    assert torch.equal(codes[:, 0], g0[:, 0]) and torch.equal(codes[:, 1], g1[:, 0])
    assert torch.equal(codes[:, 2], g0[:, 1]) and torch.equal(codes[:, 3], g1[:, 1])
    assert torch.equal(q.encode(x, 2), codes[:, :2])
    with pytest.raises(ValueError):
        q.encode(x, 3)


def _residual_energy(q: ResidualVQ, x: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """Per-vector ||x - decode(codes)||^2 of x float [B, D, F]: float [B, F]."""
    return (x - q.decode(codes)).pow(2).sum(1)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 1000), n_codebooks=st.integers(1, 3))
def test_beam_search_wide_enough_is_exhaustive(seed, n_codebooks):
    torch.manual_seed(seed)
    q = ResidualVQ(3, 3, 4).eval()
    x = torch.randn(1, 3, 40)
    books = [layer.embed for layer in q.layers[:n_codebooks]]
    flat = x[0].t()  # [F, D]
    best = torch.stack([(flat - sum(b[i] for b, i in zip(books, combo))).pow(2).sum(1)
                        for combo in itertools.product(range(4), repeat=n_codebooks)], 1).min(1).values
    codes = q.encode(x, n_codebooks, beam_width=4 ** (n_codebooks - 1))
    torch.testing.assert_close(_residual_energy(q, x, codes)[0], best)
    greedy = _residual_energy(q, x, q.encode(x, n_codebooks))[0]
    assert torch.all(best <= greedy + 1e-6)


def test_beam_search_finds_the_code_greedy_search_misses():
    # x = 1.0 with stage entries {0, 1.2} then {0, 1}: greedy takes 1.2 (nearer), then 0, and
    # leaves 0.2; the M-best search keeps 0 as well and finds 0 + 1 = x exactly.
    q = ResidualVQ(1, 2, 2).eval()
    q.layers[0].embed.copy_(torch.tensor([[0.0], [1.2]]))
    q.layers[1].embed.copy_(torch.tensor([[0.0], [1.0]]))
    x = torch.ones(1, 1, 1)
    assert q.encode(x, 2).flatten().tolist() == [1, 0]
    assert q.encode(x, 2, beam_width=2).flatten().tolist() == [0, 1]
    assert float(_residual_energy(q, x, q.encode(x, 2, beam_width=2))) == 0.0


def test_beam_width_one_is_the_greedy_search():
    torch.manual_seed(0)
    q = ResidualVQ(8, 4, 32)
    x = torch.randn(4, 8, 64)
    q = _trained(q, x, 5)
    flat = x.permute(0, 2, 1).reshape(-1, 8)
    greedy = q.encode(x, 4).permute(0, 2, 1).reshape(-1, 4)
    assert torch.equal(beam_search([layer.embed for layer in q.layers], flat, 1), greedy)


def test_beam_search_lowers_a_trained_rvq_error():
    torch.manual_seed(0)
    q = ResidualVQ(8, 3, 16)
    x = _clusters(2048, dim=8, k=64).t().reshape(8, 4, 512).permute(1, 0, 2).contiguous()  # [4, 8, 512]
    q = _trained(q, x, 10)
    for n in (2, 3):
        greedy = _residual_energy(q, x, q.encode(x, n)).mean()
        beam = _residual_energy(q, x, q.encode(x, n, beam_width=8)).mean()
        assert beam < 0.99 * greedy, (n, float(beam), float(greedy))


def test_grvq_beam_search_keeps_the_layout_and_lowers_the_error():
    torch.manual_seed(0)
    q = GroupResidualVQ(8, 2, 3, 8).eval()
    x = torch.randn(2, 8, 30)
    codes = q.encode(x, 6, beam_width=64)
    lo, hi = x.chunk(2, dim=1)
    g0, g1 = q.groups[0].encode(lo, 3, 64), q.groups[1].encode(hi, 3, 64)
    assert torch.equal(codes[:, 0::2], g0) and torch.equal(codes[:, 1::2], g1)
    err = lambda c: (x - q.decode(c)).pow(2).sum()  # noqa: E731
    assert err(codes) <= err(q.encode(x, 6))


def test_beam_width_errors():
    x = torch.randn(1, 8, 4)
    with pytest.raises(ValueError, match="at least 1"):
        ResidualVQ(8, 2, 16).encode(x, 2, beam_width=0)
    with pytest.raises(ValueError, match="greedy only"):
        SplitResidualVQ(8, (8, 16)).encode(x, 2, beam_width=4)
    assert SplitResidualVQ(8, (8, 16)).encode(x, 2, beam_width=1).shape == (1, 2, 4)


def test_srvq_rate_is_0_95_kbps_at_50_hz():
    q = SplitResidualVQ(16, (512, 1024))
    bits = sum(int(math.log2(s)) for s in q.codebook_sizes)
    assert bits * 50 == 950
    with pytest.raises(ValueError):
        SplitResidualVQ(15)


def test_sample_n_codebooks_draws_from_options():
    n = sample_n_codebooks(200, (2, 4))
    assert set(n.tolist()) <= {2, 4} and (n == 4).any()
