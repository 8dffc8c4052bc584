"""Voice consistency per person: speaker embeddings of all of a person's kept segments.

A dubbed clip or a voice-over can move its lips in time with somebody else's voice, and
on 1-5 s segments the lip/speech correlation (:mod:`vfbench.collect.active`) cannot tell
the two apart reliably. The voice itself can: every single-face speech segment gets a
256-d speaker embedding from the packaged Resemblyzer encoder (GE2E, Wan et al. 2018;
L2-normalised, cosine similarity ~0.8-0.95 for one speaker and ~0.3-0.65 between speakers on
our real clips). At the end of a run the kept segments of one person, across all of their
videos, are clustered (average linkage on cosine distance, cut at ``1 - min_voice_sim``);
the cluster with the most seconds of speech is the person's voice, and a segment whose
similarity to that cluster's mean is below ``identity.min_voice_sim`` is rejected as
``voice_mismatch``. The check needs the person's own voice to be the majority of their
kept speech: a person seen only in dubbed footage cannot be caught by it.
"""

from __future__ import annotations

import threading
import warnings
from typing import Any

import numpy as np

from vfbench.collect.identity import average_linkage_clusters

EMBED_SR = 16000
MAX_EMBED_S = 6.0  # longer segments are embedded from their middle 6 s (saturates; 2x cheaper)
_lock = threading.Lock()
_encoder: list[Any] = []


def _voice_encoder() -> Any:
    """The packaged Resemblyzer encoder, loaded once per process (CPU)."""
    with _lock:
        if not _encoder:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from resemblyzer import VoiceEncoder

            _encoder.append(VoiceEncoder("cpu", verbose=False))
        return _encoder[0]


def voice_embedding(audio: np.ndarray, sr: int) -> np.ndarray:
    """(256,) float32 L2-normalised speaker embedding of mono ``audio`` (n,) at ``sr`` Hz.

    Resemblyzer averages 1.6 s partial windows; a segment longer than :data:`MAX_EMBED_S`
    is embedded from its middle part (the voice print does not improve beyond a few
    seconds, the cost grows linearly). Silence is not trimmed: our segments come from the
    voice activity detector already.
    """
    import torch

    x = audio.astype(np.float32)
    n = int(MAX_EMBED_S * sr)
    if len(x) > n:
        a = (len(x) - n) // 2
        x = x[a : a + n]
    if sr != EMBED_SR:
        from scipy.signal import resample_poly

        x = resample_poly(x, EMBED_SR, sr).astype(np.float32)
    peak = float(np.abs(x).max()) if len(x) else 0.0
    if peak > 0:
        x = x / peak * 0.9  # level-independent (Resemblyzer normalises volume too)
    # one thread: a 3 s segment costs 0.04 CPU-s on one thread and 0.3 on two (the second
    # spins against the decoder thread); the caller's setting is restored
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            e = _voice_encoder().embed_utterance(x)
    finally:
        torch.set_num_threads(threads)
    e = np.asarray(e, np.float32)
    return e / max(1e-8, float(np.linalg.norm(e)))


def dominant_voice(
    embeddings: np.ndarray, weights: np.ndarray, min_sim: float
) -> tuple[np.ndarray, np.ndarray]:
    """Similarity of each segment to the person's dominant voice, and the cluster mask.

    ``embeddings``: (n, d) L2-normalised; ``weights``: (n,) seconds of speech. Clusters by
    average linkage on cosine distance cut at ``1 - min_sim`` (Euclidean distance between
    unit vectors is ``sqrt(2 - 2 cos)``); the heaviest cluster (ties: lowest label) is the
    dominant voice. Returns ``(sims (n,), in_dominant (n,) bool)`` where ``sims`` is the
    cosine similarity to the normalised mean of the dominant cluster.
    """
    n = len(embeddings)
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, bool)
    x = embeddings.astype(np.float64)
    x = x / np.maximum(1e-8, np.linalg.norm(x, axis=1, keepdims=True))
    labels = average_linkage_clusters(x, float(np.sqrt(max(0.0, 2.0 - 2.0 * min_sim))))
    totals = np.bincount(labels, weights=weights.astype(np.float64))
    dom = labels == int(np.argmax(totals))
    c = x[dom].mean(axis=0)
    c /= max(1e-8, float(np.linalg.norm(c)))
    return (x @ c).astype(np.float32), dom
