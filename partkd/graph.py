"""Graphs from a Layout: ST-GCN spatial partition and normalised adjacency (vectorised)."""

from __future__ import annotations

import numpy as np

from partkd.layouts import Layout


def adjacency(layout: Layout) -> np.ndarray:
    """Symmetric 0/1 adjacency (V, V) of the bone graph, without self-loops."""
    v = layout.num_joints
    a = np.zeros((v, v), dtype=np.float32)
    if layout.edges:
        e = np.asarray(layout.edges)
        a[e[:, 0], e[:, 1]] = 1.0
        a[e[:, 1], e[:, 0]] = 1.0
    return a


def hop_distance(layout: Layout) -> np.ndarray:
    """Shortest-path hop count between every pair of joints (V, V), by repeated boolean products."""
    a = adjacency(layout) > 0
    v = layout.num_joints
    dist = np.full((v, v), np.inf)
    np.fill_diagonal(dist, 0)
    reach = np.eye(v, dtype=bool)
    for d in range(1, v):
        nxt = reach | (reach.astype(np.int32) @ a.astype(np.int32) > 0)
        new = nxt & ~reach
        if not new.any():
            break
        dist[new] = d
        reach = nxt
    return dist


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """Column-normalise A (A · D^-1 with D the column degrees), as in ST-GCN."""
    deg = a.sum(axis=0)
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)
    return (a * inv[None, :]).astype(np.float32)


def spatial_partition(layout: Layout) -> np.ndarray:
    """ST-GCN spatial partition (3, V, V): root, centripetal, centrifugal subsets of the normalised A.

    A[k, j, i] weighs the message from joint j to joint i. Subsets compare the hop distance of
    j and i to the centre joint: equal -> root, j farther -> subset 1, j nearer -> subset 2.
    """
    v = layout.num_joints
    a1 = adjacency(layout) + np.eye(v, dtype=np.float32)
    norm = normalize_digraph(a1)
    hop_c = hop_distance(layout)[:, layout.center]
    hj, hi = hop_c[:, None], hop_c[None, :]
    root = np.where(hj == hi, norm, 0.0)
    farther = np.where(hj > hi, norm, 0.0)
    nearer = np.where(hj < hi, norm, 0.0)
    return np.stack([root, farther, nearer]).astype(np.float32)


def distance_partition(layout: Layout, max_hop: int = 2) -> np.ndarray:
    """Distance partition (max_hop + 1, V, V): the column-normalised adjacency of all joints within max_hop hops, split
    by hop count (subset k: joints exactly k hops apart; EfficientGCN's graph, ST-GCN's 'distance' strategy)."""
    hops = hop_distance(layout)
    norm = normalize_digraph((hops <= max_hop).astype(np.float32))
    return np.stack([np.where(hops == k, norm, 0.0) for k in range(max_hop + 1)]).astype(np.float32)
