"""Which face tracks are the target person? Descriptor clustering across a person's videos.

All candidate tracks of one identity (over all of its videos) are clustered by average
linkage on the Euclidean distance of their mean, L2-normalised dlib descriptors, cut at
``cluster_max_dist``. The dominant cluster — the largest total weight, where a track's
weight is the seconds it is on screen as the only face while someone speaks (plus a small
share for its on-screen time, which breaks ties and handles silent videos) — is the
target identity; every other track is rejected with reason ``not_target_identity``.
"""

from __future__ import annotations

import numpy as np


def average_linkage_clusters(x: np.ndarray, max_dist: float) -> np.ndarray:
    """(n,) int cluster labels of rows of ``x`` (n, d); average linkage cut at ``max_dist``."""
    n = len(x)
    if n == 0:
        return np.zeros(0, np.int64)
    if n == 1:
        return np.zeros(1, np.int64)
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    z = linkage(pdist(x.astype(np.float64)), method="average")
    return (fcluster(z, t=max_dist, criterion="distance") - 1).astype(np.int64)


def dominant_cluster(
    descriptors: np.ndarray, weights: np.ndarray, max_dist: float
) -> tuple[np.ndarray, np.ndarray]:
    """Labels of the tracks and a bool mask of those in the heaviest cluster.

    ``descriptors``: (n, 128) float; ``weights``: (n,) non-negative. Ties go to the
    cluster with the lowest label (deterministic).
    """
    labels = average_linkage_clusters(descriptors, max_dist)
    if len(labels) == 0:
        return labels, np.zeros(0, bool)
    totals = np.bincount(labels, weights=weights.astype(np.float64))
    best = int(np.argmax(totals))
    return labels, labels == best
