"""Compiled inner loops of the partition engine (numba), integer-only, with the same results as the
Python they replace.

The spanning-tree bisection (:meth:`~.solver._Solver._candidates`) draws thousands of random spanning
trees per district; for each it needs the tree (Kruskal over the edges in weight order, then a
depth-first preorder), every subtree's size and depth, and the lowest common ancestor of every edge's
ends. Those loops run here compiled with numba (``cache=True``: compiled once per installation, then
loaded from numba's cache). They are pure integer code, so the trees, orders and ancestors are exactly
those of the Python versions kept in :mod:`.solver` (used when numba is absent, and by the tests that
check the two agree).
"""

from __future__ import annotations

import numpy as np

try:  # pragma: no cover - exercised whichever way the environment is
    from numba import njit

    AVAILABLE = True
except ImportError:  # pragma: no cover
    AVAILABLE = False

__all__ = ["AVAILABLE", "tree_of", "warm_up"]


if AVAILABLE:

    @njit(cache=True, nogil=True)
    def _kruskal_dfs(n: int, A: np.ndarray, B: np.ndarray):  # pragma: no cover - compiled
        """Spanning tree from edges already in weight order (union-find with path halving, as the
        Python), then the DFS preorder from node 0 (children pushed in reverse order of joining) and
        each node's parent; ``ok`` False when the edges do not connect the nodes."""
        parent = np.arange(n)
        # adjacency of the tree in joining order: at most n - 1 edges, 2 entries each
        head = np.full(n, -1, np.int64)
        nxt = np.full(2 * n, -1, np.int64)
        to = np.empty(2 * n, np.int64)
        deg = np.zeros(n, np.int64)
        joined = 0
        slot = 0
        for i in range(len(A)):
            a = A[i]
            b = B[i]
            ra = a
            while parent[ra] != ra:
                parent[ra] = parent[parent[ra]]
                ra = parent[ra]
            rb = b
            while parent[rb] != rb:
                parent[rb] = parent[parent[rb]]
                rb = parent[rb]
            if ra == rb:
                continue
            parent[ra] = rb
            # prepend: walking the list from head visits neighbours newest first (reversed joining order)
            to[slot] = b
            nxt[slot] = head[a]
            head[a] = slot
            slot += 1
            to[slot] = a
            nxt[slot] = head[b]
            head[b] = slot
            slot += 1
            deg[a] += 1
            deg[b] += 1
            joined += 1
            if joined == n - 1:
                break
        pre = np.empty(n, np.int64)
        par = np.full(n, -1, np.int64)
        if joined < n - 1:
            return pre, par, False
        seen = np.zeros(n, np.bool_)
        stack = np.empty(n, np.int64)
        top = 0
        stack[0] = 0
        top = 1
        seen[0] = True
        k = 0
        while top > 0:
            top -= 1
            v = stack[top]
            pre[k] = v
            k += 1
            s = head[v]
            while s >= 0:  # reversed(nbrs[v]): the newest neighbour first
                u = to[s]
                if not seen[u]:
                    seen[u] = True
                    par[u] = v
                    stack[top] = u
                    top += 1
                s = nxt[s]
        return pre, par, True

    @njit(cache=True, nogil=True)
    def _sizes_depths_lca(pre: np.ndarray, par: np.ndarray, ea: np.ndarray, eb: np.ndarray):  # pragma: no cover
        """Subtree sizes, depths, and the lowest common ancestor of each pair ``(ea[i], eb[i])``
        (climbing from the deeper end; an ancestor test by preorder interval)."""
        n = len(pre)
        size = np.ones(n, np.int64)
        for i in range(n - 1, 0, -1):
            v = pre[i]
            size[par[v]] += size[v]
        depth = np.zeros(n, np.int64)
        tin = np.empty(n, np.int64)
        tin[pre[0]] = 0
        for i in range(1, n):
            v = pre[i]
            depth[v] = depth[par[v]] + 1
            tin[v] = i
        m = len(ea)
        lca = np.empty(m, np.int64)
        for i in range(m):
            a = ea[i]
            b = eb[i]
            # an edge of the graph: its ends are usually close in the tree; climb a until it holds b
            while not (tin[a] <= tin[b] and tin[b] < tin[a] + size[a]):
                a = par[a]
            lca[i] = a
        return size, depth, lca


def tree_of(n: int, ea: np.ndarray, eb: np.ndarray, order: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The minimum spanning tree of a graph of ``n`` nodes whose edges ``(ea, eb)`` come in weight
    order ``order``: (DFS preorder from node 0, parent, subtree size, depth, LCA of every edge), or
    None when the graph is not connected."""
    if n == 1:
        pre = np.zeros(1, dtype=np.int64)
        par = np.full(1, -1, dtype=np.int64)
    else:
        pre, par, ok = _kruskal_dfs(n, ea[order], eb[order])
        if not ok:
            return None
    size, depth, lca = _sizes_depths_lca(pre, par, ea, eb)
    return pre, par, size, depth, lca


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel on a tiny graph."""
    if AVAILABLE:
        tree_of(3, np.array([0, 1], dtype=np.int64), np.array([1, 2], dtype=np.int64), np.array([0, 1]))


if AVAILABLE:

    @njit(cache=True, nogil=True)
    def _subtree_sums(pre: np.ndarray, size: np.ndarray, lca: np.ndarray, base: np.ndarray, W: np.ndarray,
                      tags: np.ndarray):  # pragma: no cover - compiled
        """Sums over the subtree of every non-root node (in preorder), by prefix sums over the preorder:
        the columns of ``base`` (per node) and ``W`` (per edge, added at the edge's LCA), and the xor of
        ``tags``. The additions run in the order of ``np.add.at`` and ``np.cumsum``: identical sums."""
        n = len(pre)
        nb = base.shape[1]
        nw = W.shape[1]
        cols = nb + nw
        at_lca = np.zeros((n, nw))
        for i in range(len(lca)):
            for c in range(nw):
                at_lca[lca[i], c] += W[i, c]
        cs = np.zeros((n + 1, cols))
        px = np.zeros(n + 1, np.uint64)
        for k in range(n):
            v = pre[k]
            for c in range(nb):
                cs[k + 1, c] = base[v, c] if k == 0 else cs[k, c] + base[v, c]
            for c in range(nw):
                cs[k + 1, nb + c] = at_lca[v, c] if k == 0 else cs[k, nb + c] + at_lca[v, c]
            px[k + 1] = tags[v] if k == 0 else px[k] ^ tags[v]
        lo_i = np.empty(n - 1, np.int64)
        hi_i = np.empty(n - 1, np.int64)
        sub = np.empty((n - 1, cols))
        side = np.empty(n - 1, np.uint64)
        for k in range(1, n):
            v = pre[k]
            lo = k
            hi = k + size[v]
            lo_i[k - 1] = lo
            hi_i[k - 1] = hi
            for c in range(cols):
                sub[k - 1, c] = cs[hi, c] - cs[lo, c]
            side[k - 1] = px[hi] ^ px[lo]
        return lo_i, hi_i, sub, side


def subtree_sums(pre: np.ndarray, size: np.ndarray, lca: np.ndarray, base: np.ndarray, W: np.ndarray,
                 tags: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For every node but the root, in preorder: the preorder interval ``[lo, hi)`` of its subtree, the
    sums over it of ``base``'s columns then of ``W``'s (edges counted at their LCA), and the xor of
    its ``tags``."""
    return _subtree_sums(pre, size, lca, np.ascontiguousarray(base, dtype=np.float64),
                         np.ascontiguousarray(W, dtype=np.float64), tags)
