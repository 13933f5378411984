"""One vector-quantization codebook with k-means initialisation and EMA updates.

Shared by every quantizer in nsc (RVQ, GRVQ, SRVQ). Implements:

* nearest-neighbour assignment in Euclidean distance;
* k-means initialisation from the first training batch (SoundStream, Zeghidour
  et al. 2021, sec. 3.3);
* exponential-moving-average codebook updates, decay 0.99 (VQ-VAE, van den Oord
  et al. 2017, appendix A.1; Razavi et al. 2019), with Laplace smoothing;
* dead-code replacement: entries whose EMA usage falls below a threshold are
  re-seeded from vectors of the current batch (Dhariwal et al. 2020, Jukebox);
* the commitment loss ||x - sg(q)||^2 (VQ-VAE eq. 3) and the straight-through
  estimator q_st = x + sg(q - x).

Under ``torch.distributed`` the EMA statistics and the initialisation are
all-reduced/broadcast so every process keeps the same codebook.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["EMACodebook", "kmeans"]


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def kmeans(x: Tensor, k: int, iters: int = 10) -> Tensor:
    """Lloyd's k-means on float32 [N, D]; returns centroids [k, D].

    When N < k, centroids are drawn with replacement (plus tiny noise) and the
    dead-code replacement fills the rest during training.
    """
    n = x.shape[0]
    if n < k:
        idx = torch.randint(0, n, (k,), device=x.device)
        return x[idx] + 1e-3 * x.std() * torch.randn(k, x.shape[1], device=x.device)
    centroids = x[torch.randperm(n, device=x.device)[:k]].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        counts = torch.bincount(assign, minlength=k).to(x.dtype)
        filled = counts > 0
        centroids[filled] = sums[filled] / counts[filled, None]
    return centroids


class EMACodebook(nn.Module):
    """A codebook of ``codebook_size`` vectors of dimension ``dim``, learnt by EMA.

    Args:
        dim: vector dimension D.
        codebook_size: number of entries K.
        decay: EMA decay (0.99 in MSCACodec sec. 3.2).
        eps: Laplace smoothing constant.
        dead_threshold: EMA usage below which an entry is re-seeded.
    """

    def __init__(self, dim: int, codebook_size: int, decay: float = 0.99, eps: float = 1e-5,
                 dead_threshold: float = 1.0) -> None:
        super().__init__()
        self.dim = dim
        self.codebook_size = codebook_size
        self.decay = decay
        self.eps = eps
        self.dead_threshold = dead_threshold
        # random until k-means replaces it on the first training batch, so an
        # untrained model (tests) still spreads its codes over the codebook
        self.register_buffer("embed", 0.1 * torch.randn(codebook_size, dim))
        self.register_buffer("embed_avg", torch.zeros(codebook_size, dim))
        self.register_buffer("cluster_size", torch.zeros(codebook_size))
        self.register_buffer("initted", torch.zeros((), dtype=torch.bool))

    def assign(self, x: Tensor) -> Tensor:
        """Nearest entry of each row of float [N, D]; returns int64 [N]."""
        e = self.embed.to(x.dtype)
        dist2 = x.pow(2).sum(1, keepdim=True) - 2 * x @ e.t() + e.pow(2).sum(1)[None, :]
        return dist2.argmin(dim=1)

    def lookup(self, indices: Tensor) -> Tensor:
        """int64 indices of any shape [...] -> float32 vectors [..., D]."""
        return F.embedding(indices, self.embed)

    @torch.no_grad()
    def _init(self, x: Tensor) -> None:
        centroids = kmeans(x.float(), self.codebook_size)
        if _distributed():
            dist.broadcast(centroids, 0)
        self.embed.copy_(centroids)
        self.embed_avg.copy_(centroids)
        self.cluster_size.fill_(1.0)
        self.initted.fill_(True)

    @torch.no_grad()
    def _ema_update(self, x: Tensor, indices: Tensor, active: Tensor | None) -> None:
        sel_x = x if active is None else x[active]
        sel_i = indices if active is None else indices[active]
        onehot_counts = torch.bincount(sel_i, minlength=self.codebook_size).float()
        sums = torch.zeros(self.codebook_size, self.dim, device=x.device).index_add_(0, sel_i, sel_x.float())
        if _distributed():
            dist.all_reduce(onehot_counts)
            dist.all_reduce(sums)
        self.cluster_size.mul_(self.decay).add_(onehot_counts, alpha=1 - self.decay)
        self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
        n = self.cluster_size.sum()
        smoothed = (self.cluster_size + self.eps) / (n + self.codebook_size * self.eps) * n
        self.embed.copy_(self.embed_avg / smoothed[:, None])
        # cluster sizes are identical on every process, so every process agrees on n_dead
        dead = self.cluster_size < self.dead_threshold
        n_dead = int(dead.sum())
        if n_dead:
            pick = torch.randint(0, x.shape[0], (n_dead,), device=x.device)
            fresh = x[pick].float()
            if _distributed():
                dist.broadcast(fresh, 0)
            self.embed[dead] = fresh
            self.embed_avg[dead] = fresh
            self.cluster_size[dead] = 1.0

    def forward(self, x: Tensor, active: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """Quantize rows of x.

        Args:
            x: float [N, D] vectors.
            active: optional bool [N]; only active rows update the codebook and
                count in the commitment loss (quantizer dropout).

        Returns:
            (quantized float [N, D] with straight-through gradient to x,
             indices int64 [N], commitment loss scalar mean ||x - sg(q)||^2).
        """
        if self.training and not bool(self.initted):
            self._init(x.detach())
        indices = self.assign(x.detach())
        q = self.lookup(indices).to(x.dtype)
        if active is None:
            commit = F.mse_loss(x, q.detach())
        else:
            w = active.to(x.dtype)[:, None]
            commit = ((x - q.detach()).pow(2) * w).sum() / (w.sum() * x.shape[1]).clamp_min(1.0)
        if self.training:
            self._ema_update(x.detach(), indices, active)
        q_st = x + (q - x).detach()
        return q_st, indices, commit
