"""Adaptive postfilters for decoded speech: pitch (long-term) and formant (short-term).

A low-rate codec loses most where the ear is least forgiving: between the
harmonics of voiced speech and in the valleys between formants, where coding
noise fills in what should be quiet. Speech codecs have long cleaned this up
after decoding, without any bits: the long-term (pitch) postfilter deepens
the valleys between harmonics, the short-term (formant) postfilter those
between formants (Chen & Gersho, "Adaptive postfiltering for quality
enhancement of coded speech", IEEE Trans. Speech Audio Process. 3(1), 1995;
ITU-T G.729 section 4.2 is the textbook instance, and Codec2 and AMR carry
their own). nsc applies them to the decoder's output; they are not part of
any of the five papers' models, change no bits, and ``nsc decode
--no-postfilter`` returns the model's raw output. :func:`default_postfilter`
(what decoding applies, for the codecs whose registry entry says so) is the
pitch postfilter alone; why is in its docstring.

Both filters stream: :meth:`process` takes blocks of any length and returns
the output as far as its look-ahead allows, :meth:`flush` the rest, and the concatenated
output equals :func:`apply` on the whole signal, sample for sample to
float32 rounding, whatever the block sizes. Each works in 10 ms frames, with
a look-ahead of a few milliseconds (``lookahead`` samples) for its analysis.
"""

from __future__ import annotations

import numpy as np

__all__ = ["PitchPostfilter", "FormantPostfilter", "PostfilterChain", "default_postfilter", "postfilter_for", "apply"]


class _Framed:
    """Streaming frame machinery: subclasses render whole hops given enough history and look-ahead.

    A subclass sets ``hop``, ``history`` (samples it reads before a hop) and
    ``lookahead`` (samples it reads after a hop), and implements
    ``_render(buf, first, n_hops)``: the output of hops ``first ...
    first + n_hops - 1``, reading ``buf`` at absolute sample ``i`` as
    ``buf[i - self._start]``. Samples before the signal are zeros.
    """

    hop: int
    history: int
    lookahead: int

    def _reset(self) -> None:
        self._buf = np.zeros(self.history, np.float64)
        self._start = -self.history  # absolute index of _buf[0]
        self._n_in = 0
        self._next = 0  # next hop to render
        self._n_out = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter the next block: float ``[T]`` in, float32 ``[T']`` out (delayed; ``T'`` may be 0)."""
        x = np.asarray(x, np.float64).reshape(-1)
        self._buf = np.concatenate([self._buf, x])
        self._n_in += len(x)
        end = (self._n_in - self.lookahead) // self.hop  # hops whose look-ahead has arrived
        return self._emit(end, self._n_in)

    def flush(self) -> np.ndarray:
        """The rest of the output (the signal is taken to be silent after its end); resets the filter."""
        self._buf = np.concatenate([self._buf, np.zeros(self.lookahead + self.hop)])
        out = self._emit(-(-self._n_in // self.hop), self._n_in)
        self._reset()
        return out

    #: most hops rendered per vectorised call (bounds the working memory: 5 s of audio)
    max_hops = 500

    def _emit(self, end: int, limit: int) -> np.ndarray:
        if end <= self._next:
            return np.zeros(0, np.float32)
        y = np.concatenate([self._render(self._buf, k, min(self.max_hops, end - k))
                            for k in range(self._next, end, self.max_hops)])
        y = y[: max(0, limit - self._n_out)]
        self._next = end
        self._n_out += len(y)
        keep_from = end * self.hop - self.history  # absolute index still needed
        cut = keep_from - self._start
        if cut > 0:
            self._buf = self._buf[cut:]
            self._start = keep_from
        return y.astype(np.float32)


class PitchPostfilter(_Framed):
    """Long-term (pitch) postfilter: a comb on the decoder's own period that deepens the valleys between harmonics.

    Every hop (10 ms) the period ``T`` is taken where the normalised
    autocorrelation ``r`` of a ``window_ms`` window peaks within the
    ``f0_min_hz``-``f0_max_hz`` pitch range; where ``r`` exceeds
    ``threshold`` the frame is filtered by the symmetric comb
    ``y[n] = (x[n] + g/2 (x[n-T] + x[n+T])) / (1 + g)``, with
    ``g = gamma (r - threshold) / (1 - threshold)``, and left as it is
    elsewhere (unvoiced, silent). Between frame centres the outputs of the
    two neighbouring settings are cross-faded linearly, so a change of
    period does not click. Source: the long-term postfilter of Chen & Gersho
    (1995) and ITU-T G.729 (section 4.2.1), made symmetric (a
    two-sided comb has no phase shift, at the cost of ``T`` samples of
    look-ahead).

    Args:
        sample_rate: Hz.
        gamma: comb strength (0 disables).
        threshold: normalised autocorrelation below which a frame is left alone, in [0, 1).
        window_ms, hop_ms: analysis window and hop (ms).
        f0_min_hz, f0_max_hz: pitch search range (Hz).

    Raises:
        ValueError: a parameter is out of range.
    """

    def __init__(self, sample_rate: int, gamma: float = 0.5, threshold: float = 0.2, window_ms: float = 30.0,
                 hop_ms: float = 10.0, f0_min_hz: float = 60.0, f0_max_hz: float = 400.0) -> None:
        if not 0 <= threshold < 1 or gamma < 0 or not 0 < f0_min_hz < f0_max_hz < sample_rate / 4:
            raise ValueError("PitchPostfilter: need gamma >= 0, 0 <= threshold < 1, 0 < f0_min_hz < f0_max_hz < sample_rate/4")
        self.sample_rate, self.gamma, self.threshold = sample_rate, gamma, threshold
        self.hop = max(1, round(sample_rate * hop_ms / 1000))
        self.window = max(2, round(sample_rate * window_ms / 1000)) // 2 * 2
        self.lag_min = max(2, int(sample_rate / f0_max_hz))
        self.lag_max = int(np.ceil(sample_rate / f0_min_hz))
        half = self.window // 2
        # analysis of hop k is centred on sample k*hop; hop k is rendered from the settings at k and k+1
        self.lookahead = max(half, self.lag_max)
        self.history = half + self.lag_max + self.lag_max
        self._reset()

    def settings(self, buf: np.ndarray, start: int, first: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Period (samples, int64 ``[n]``) and comb gain (float64 ``[n]``) for frame centres ``first ... first+n-1``."""
        w, half, lo, hi = self.window, self.window // 2, self.lag_min, self.lag_max
        centres = (first + np.arange(n)) * self.hop - start  # positions in buf
        idx = centres[:, None] + np.arange(-half - hi, half)[None, :]  # [n, hi + w]: lagged span then window
        span = buf[idx]
        seg = span[:, hi:]  # [n, w]
        nfft = 1 << int(np.ceil(np.log2(hi + w)))  # no wrap-around for lags 0..hi
        xc = np.fft.irfft(np.fft.rfft(span, nfft) * np.conj(np.fft.rfft(seg, nfft)), nfft)  # xc[j] = sum seg[i] span[i+j]
        lags = np.arange(lo, hi + 1)
        num = xc[:, hi - lags]  # sum seg[i] * x[c - half + i - L]
        c2 = np.concatenate([np.zeros((n, 1)), np.cumsum(span * span, axis=1)], axis=1)
        e_lag = c2[:, hi - lags + w] - c2[:, hi - lags]
        e_seg = c2[:, -1] - c2[:, hi]
        r = num / np.sqrt(e_seg[:, None] * e_lag + 1e-12)
        r[e_seg < 1e-9] = 0.0
        best = np.argmax(r, axis=1)
        rmax = r[np.arange(n), best]
        gain = self.gamma * np.clip((rmax - self.threshold) / (1 - self.threshold), 0.0, 1.0)
        return lags[best], gain

    def _render(self, buf: np.ndarray, first: int, n_hops: int) -> np.ndarray:
        period, gain = self.settings(buf, self._start, first, n_hops + 1)
        h = self.hop
        n = (first + np.arange(n_hops))[:, None] * h + np.arange(h)[None, :] - self._start  # [n_hops, h]
        fade = (np.arange(h) / h)[None, :]

        def comb(k: slice) -> np.ndarray:
            t, g = period[k][:, None], gain[k][:, None]
            return (buf[n] + g / 2 * (buf[n - t] + buf[n + t])) / (1 + g)

        y = (1 - fade) * comb(slice(0, n_hops)) + fade * comb(slice(1, n_hops + 1))
        return y.reshape(-1)


class FormantPostfilter(_Framed):
    """Short-term (formant) postfilter with tilt compensation and gain control, after ITU-T G.729 section 4.2.2-4.2.4.

    Every hop (10 ms), LPC coefficients ``a`` (order ``order``, autocorrelation
    method, Hann window of ``window_ms`` centred on the hop) of the decoded
    signal give ``H(z) = A(z/gamma_n) / A(z/gamma_d)``, which keeps the
    formant peaks and lowers the valleys between them; ``1 + gamma_t k1 z^-1``
    (``k1``: the first reflection coefficient of H's impulse response, used
    only when negative) takes back the spectral tilt H adds; and a gain
    smoothed per sample (factor ``agc``) gives each hop its input's energy
    back. Source: Chen & Gersho (1995); ITU-T G.729 (sections 4.2.2-4.2.4).

    Args:
        sample_rate: Hz.
        gamma_n, gamma_d: numerator and denominator bandwidth expansion, ``0 <= gamma_n < gamma_d < 1``.
        gamma_t: tilt compensation factor.
        order: LPC order (default 10 at 8 kHz, 16 at 16 kHz and above).
        window_ms, hop_ms: analysis window and hop (ms).
        agc: per-sample smoothing of the gain, in [0, 1).

    Raises:
        ValueError: a parameter is out of range.
    """

    def __init__(self, sample_rate: int, gamma_n: float = 0.55, gamma_d: float = 0.7, gamma_t: float = 0.8,
                 order: int | None = None, window_ms: float = 25.0, hop_ms: float = 10.0, agc: float = 0.85) -> None:
        if not 0 <= gamma_n < gamma_d < 1 or not 0 <= agc < 1:
            raise ValueError("FormantPostfilter: need 0 <= gamma_n < gamma_d < 1 and 0 <= agc < 1")
        self.sample_rate, self.gamma_n, self.gamma_d, self.gamma_t, self.agc = sample_rate, gamma_n, gamma_d, gamma_t, agc
        self.order = order or (10 if sample_rate <= 8000 else 16)
        self.hop = max(1, round(sample_rate * hop_ms / 1000))
        self.window = max(self.order + 2, round(sample_rate * window_ms / 1000))
        half = self.window // 2
        self.lookahead = max(0, self.window - half - (self.hop - self.hop // 2))
        self.history = max(half + self.hop // 2, self.order + 1)
        self._taper = np.hanning(self.window)
        self._k = np.arange(self.order + 1)
        self._reset()

    def _reset(self) -> None:
        super()._reset()
        self._y_past = np.zeros(self.order)  # H's output, newest first
        self._t_past = 0.0  # last H output, for the tilt filter
        self._g = 1.0  # smoothed gain

    def lpc(self, segs: np.ndarray) -> np.ndarray:
        """LPC polynomials ``[n, order + 1]`` (``[1, a1, ..., a_p]``, prediction error ``x[t] + sum a_j x[t-j]``)
        of windowed segments ``[n, L]``; a silent segment gets ``[1, 0, ..., 0]``."""
        p, n, length = self.order, segs.shape[0], segs.shape[1]
        nfft = 1 << int(np.ceil(np.log2(2 * length)))
        r = np.fft.irfft(np.abs(np.fft.rfft(segs, nfft)) ** 2, nfft)[:, : p + 1]
        r = r * np.exp(-0.5 * (2 * np.pi * 60 / self.sample_rate * np.arange(p + 1)) ** 2)  # 60 Hz lag window
        r[:, 0] *= 1.0001  # white-noise correction
        silent = r[:, 0] < 1e-9
        r[silent] = np.eye(1, p + 1)[0]
        a = np.zeros((n, p + 1))
        a[:, 0] = 1.0
        err = r[:, 0].copy()
        for i in range(1, p + 1):  # Levinson-Durbin, all segments at once
            k = -(r[:, i] + np.sum(a[:, 1:i] * r[:, i - 1 : 0 : -1], axis=1)) / err
            a[:, 1:i] = a[:, 1:i] + k[:, None] * a[:, i - 1 : 0 : -1]
            a[:, i] = k
            err = err * (1 - k * k)
        return a

    def _all_pole(self, v: np.ndarray, den: np.ndarray) -> np.ndarray:
        """``y = v / A_k(z)`` hop by hop (``v``, ``den``: ``[n, hop]``, ``[n, p + 1]``), the memory carried across hops.

        Each hop's output is its zero-state response (``v`` convolved with the
        hop's impulse response, all hops at once by FFT) plus the response to
        the last ``p`` outputs before it (``M_k s_k``); only that ``p``-vector
        ``s`` is carried from hop to hop in a Python loop.
        """
        n, h = v.shape
        p = den.shape[1] - 1
        hp = np.zeros((n, p + h))  # impulse responses, after p leading zeros
        hp[:, p] = 1.0
        for t in range(1, h):
            hp[:, p + t] = -np.sum(den[:, 1:] * hp[:, t : p + t][:, ::-1], axis=1)
        imp = hp[:, p:]
        nfft = 1 << int(np.ceil(np.log2(2 * h)))
        zs = np.fft.irfft(np.fft.rfft(v, nfft) * np.fft.rfft(imp, nfft), nfft)[:, :h]
        # the past outputs s (newest first) act as an input f = F s over the first p samples
        jm = np.arange(p)[:, None] + np.arange(p)[None, :] + 1  # [t, m] -> coefficient index t + 1 + m
        f_mat = -np.where(jm <= p, den[:, np.minimum(jm, p)], 0.0)  # [n, p, p]
        ti = np.arange(h)[:, None] - np.arange(p)[None, :]  # [t, i] -> imp index t - i
        h_mat = np.where(ti >= 0, imp[:, np.maximum(ti, 0)], 0.0)  # [n, h, p]
        m = h_mat @ f_mat  # [n, h, p]: output's response to s
        last_d, last_m = zs[:, ::-1][:, :p], m[:, ::-1][:, :p]  # the next state, newest first
        states = np.empty((n, p))
        st = self._y_past
        for k in range(n):
            states[k] = st
            st = last_d[k] + last_m[k] @ st
        self._y_past = st
        return zs + np.einsum("ntp,np->nt", m, states)

    def _render(self, buf: np.ndarray, first: int, n_hops: int) -> np.ndarray:
        h, half, p = self.hop, self.window // 2, self.order
        s0 = first * h - self._start  # first hop's start in buf
        starts = s0 + np.arange(n_hops) * h
        c = starts + h // 2 - half
        a = self.lpc(buf[c[:, None] + np.arange(self.window)[None, :]] * self._taper)
        num, den = a * self.gamma_n ** self._k, a * self.gamma_d ** self._k  # [n_hops, p + 1]
        x = buf[s0 - p : s0 + n_hops * h]
        # numerator (FIR) for every hop at once: v[t] = sum_i num[i] x[t - i]
        win = np.lib.stride_tricks.sliding_window_view(x, p + 1)[: n_hops * h, ::-1].reshape(n_hops, h, p + 1)
        v = np.einsum("nti,ni->nt", win, num)
        y = self._all_pole(v, den)
        # tilt compensation 1 + mu z^-1, mu = gamma_t k1 when H's first reflection coefficient k1 < 0
        imp = np.zeros((n_hops, 22))
        for m in range(22):  # H's impulse response, truncated to 22 samples as in G.729
            acc = num[:, m] if m <= p else np.zeros(n_hops)
            for j in range(1, min(m, p) + 1):
                acc = acc - den[:, j] * imp[:, m - j]
            imp[:, m] = acc
        k1 = -np.sum(imp[:, :-1] * imp[:, 1:], axis=1) / np.maximum(np.sum(imp * imp, axis=1), 1e-12)
        mu = np.where(k1 < 0, self.gamma_t * k1, 0.0)
        flat = y.reshape(-1)
        prev = np.concatenate([[self._t_past], flat[:-1]]).reshape(n_hops, h)
        self._t_past = flat[-1]
        t = y + mu[:, None] * prev
        # gain control: each hop's input energy back, the gain smoothed per sample
        e_in = np.sum(x[p:].reshape(n_hops, h) ** 2, axis=1)
        e_out = np.sum(t * t, axis=1)
        target = np.where(e_out > 1e-12, np.sqrt(e_in / np.maximum(e_out, 1e-12)), 1.0)
        # g[t] = agc g[t-1] + (1 - agc) target within a hop: g[t] = target + (g[-1] - target) agc^(t+1)
        decay = self.agc ** np.arange(1, h + 1)
        g = np.empty((n_hops, h))
        g_prev = self._g
        for k in range(n_hops):
            g[k] = target[k] + (g_prev - target[k]) * decay
            g_prev = g[k, -1]
        self._g = g_prev
        return (t * g).reshape(-1)


class PostfilterChain:
    """Postfilters in series, streaming like each of them (the delays add up)."""

    def __init__(self, stages: list) -> None:
        self.stages = list(stages)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter the next block: float ``[T]`` in, float32 ``[T']`` out (delayed)."""
        for s in self.stages:
            x = s.process(x)
        return np.asarray(x, np.float32)

    def flush(self) -> np.ndarray:
        """The rest of the output; resets every stage."""
        tail = np.zeros(0, np.float32)
        for s in self.stages:
            tail = np.concatenate([s.process(tail), s.flush()])
        return tail.astype(np.float32)


def default_postfilter(sample_rate: int) -> PostfilterChain:
    """nsc's postfilter for speech at ``sample_rate`` Hz: the pitch postfilter with its defaults.

    Chosen on mscacodec-nb's output (valid split, paired per file): the pitch
    postfilter alone raised PESQ and ViSQOL and left STOI as it was; the
    formant postfilter alone raised both too but cost STOI 0.003; the two in
    series raised PESQ most but lowered ViSQOL. On mscacodec-wb's output the pitch
    postfilter raised all three, a little. ``PostfilterChain([PitchPostfilter(sr),
    FormantPostfilter(sr)])`` is there for whoever wants it.
    """
    return PostfilterChain([PitchPostfilter(sample_rate)])


def postfilter_for(spec, enabled: bool | None = None) -> PostfilterChain | None:
    """The postfilter decoding applies for codec ``spec`` (a :class:`~nsc.registry.CodecSpec`), or None.

    ``enabled`` None follows the codec's ``postfilter`` default; True or False forces it.
    """
    on = spec.postfilter if enabled is None else enabled
    return default_postfilter(spec.sample_rate) if on else None


def apply(x: np.ndarray, postfilter) -> np.ndarray:
    """Filter a whole signal: float ``[T]`` in, float32 ``[T]`` out, aligned with the input (no delay)."""
    y = np.concatenate([postfilter.process(x), postfilter.flush()])
    return y.astype(np.float32)
