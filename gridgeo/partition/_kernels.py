"""The numba kernels of :mod:`._fast` (imported on first use: numba's import and the loading of the
compiled kernels are paid only by processes that divide)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numba import types as _nbt
from numba.typed import Dict as _Dict


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



@njit(cache=True, nogil=True)
def _cut_scores(sub, n1, nl, k, H, A, E, lo, hi, target, t, compact, cut_w, cross, lref, balance, margin,
                strict, band):  # pragma: no cover - compiled
    m = sub.shape[0]
    cap = max(k - 1, 0) * m if band <= 0 else min(max(k - 1, 0), 2 * band + 2) * m
    rows = np.empty(cap, np.int64)
    cols = np.empty(cap, np.int64)
    vg = np.empty(cap)
    score = np.empty(cap)
    base = np.empty(m)
    for j in range(m):
        h1 = sub[j, 0]
        a1 = sub[j, 1]
        e1 = sub[j, 2]
        c0 = sub[j, 3] - 2 * sub[j, 6]
        c1 = sub[j, 4] - 2 * sub[j, 7]
        c2 = sub[j, 5] - 2 * sub[j, 8]
        a2 = A - a1
        p1 = e1 + c0
        p2 = (E - e1) + c0
        comp = p1 * p1 / (4 * np.pi * max(a1, 1e-9)) + p2 * p2 / (4 * np.pi * max(a2, 1e-9))
        base[j] = compact * comp + (cut_w * c2 - cross * c1) / lref
    q = 0
    for r in range(k - 1):
        k1 = r + 1
        k2 = k - k1
        for j in range(m):
            if not (n1[j] >= k1 and nl - n1[j] >= k2):
                continue
            h1 = sub[j, 0]
            if band > 0 and abs(k1 - h1 / t) > band:
                continue
            h2 = H - h1
            x = k1 * lo - h1
            y = h1 - k1 * hi
            v1 = max(0.0, x if x >= y else y)
            x = k2 * lo - h2
            y = h2 - k2 * hi
            v2 = max(0.0, x if x >= y else y)
            viol = v1 + v2
            if strict and viol != 0:
                continue
            g1 = h1 / k1
            g2 = h2 / k2
            d1 = (g1 - t) / target
            d2 = (g2 - t) / target
            if margin > 0:
                f1 = min(max((lo + margin - g1) / margin, 0.0), 1.0)
                f2 = min(max((lo + margin - g2) / margin, 0.0), 1.0)
                f1 = f1 * f1
                f2 = f2 * f2
            else:
                f1 = 0.0 * g1
                f2 = 0.0 * g2
            rows[q] = r
            cols[q] = j
            vg[q] = viol
            score[q] = base[j] + balance * (k1 * (d1 * d1 + f1) + k2 * (d2 * d2 + f2))
            q += 1
    return rows[:q], cols[:q], vg[:q], score[:q]



@njit(cache=True, nogil=True)
def _components(n, a, b):  # pragma: no cover - compiled
    parent = np.arange(n)
    for i in range(len(a)):
        x = a[i]
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        y = b[i]
        while parent[y] != y:
            parent[y] = parent[parent[y]]
            y = parent[y]
        if x != y:
            if x < y:
                parent[y] = x
            else:
                parent[x] = y
    label = np.full(n, -1, np.int32)
    root_label = np.full(n, -1, np.int32)
    nc = 0
    for v in range(n):
        r = v
        while parent[r] != r:
            r = parent[r]
        if root_label[r] < 0:
            root_label[r] = nc
            nc += 1
        label[v] = root_label[r]
    return nc, label



@njit(cache=True, nogil=True)
def _low_bit(mask: int) -> int:  # pragma: no cover - compiled
    i = 0
    while not (mask >> i) & 1:
        i += 1
    return i

@njit(cache=True, nogil=True)
def _cost(p, hS, AS, PS, artS, ns_cut, strict):  # pragma: no cover - compiled
    """:meth:`.exact.ExactDP.cost`, operation for operation (the same floating-point result)."""
    lo, hi, t, compact, cross, cut, balance, margin, lref = p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8]
    comp = PS * PS / (4 * np.pi * AS) if AS > 0 else 0.0
    if margin <= 0:
        fp = 0.0 * hS
    else:
        x = (lo + margin - hS) / margin
        fp = 0.0 if x <= 0 else (1.0 if x >= 1 else x * x)
    d = (hS - t) / t
    c = compact * comp + (cross * artS + cut * ns_cut / 2) / lref + balance * (d * d + fp)
    if not strict:
        v = max(0.0, max(lo - hS, hS - hi))
        if v > 0:
            c += 1000.0 + 1000.0 * v / t
    return c

@njit(cache=True, nogil=True)
def _sets(mask, lo_h, hi_h, strict, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, cnt, budget,
          buf_c, buf_s, off):  # pragma: no cover - compiled
    """:meth:`.exact.ExactDP.sets`: the connected sets holding the lowest node of ``mask`` within
    ``lo_h..hi_h``, written to ``buf_c``/``buf_s`` from ``off`` in the order of the recursive
    enumeration (an explicit stack here: numba cannot cache recursive functions), then sorted by cost,
    stably as ``list.sort``. Returns how many, or -1 over the budget (``cnt[0] > budget``)."""
    n = len(h)
    fS = np.empty(n + 1, np.int64)
    fX = np.empty(n + 1, np.int64)
    fban = np.empty(n + 1, np.int64)
    fvb = np.zeros(n + 1, np.int64)
    fh = np.empty(n + 1)
    fA = np.empty(n + 1)
    fP = np.empty(n + 1)
    fart = np.empty(n + 1)
    fns = np.empty(n + 1)
    fnsdeg = np.empty(n + 1)
    u = _low_bit(mask)
    top = 0
    fS[0] = 1 << u
    fh[0] = h[u]
    fA[0] = area[u]
    fP[0] = perim[u]
    fart[0] = 0.0
    fns[0] = 0.0
    fnsdeg[0] = nsdeg[u]
    fX[0] = nb[u] & mask & ~(1 << u)
    fban[0] = 0
    k = 0
    # entering a frame: count the step, keep the set when heavy enough
    cnt[0] += 1
    if cnt[0] > budget:
        return -1
    if fh[0] >= lo_h:
        buf_c[off + k] = _cost(p, fh[0], fA[0], fP[0], fart[0], fnsdeg[0] - 2 * fns[0], strict)
        buf_s[off + k] = fS[0]
        k += 1
    while top >= 0:
        X = fX[top]
        if X == 0:
            top -= 1
            if top >= 0:
                fban[top] |= fvb[top]  # after the child returns: ban |= vb
            continue
        S = fS[top]
        vb = X & -X
        X ^= vb
        fX[top] = X
        v = _low_bit(vb)
        hv = fh[top] + h[v]
        if hv > hi_h:
            fban[top] |= vb
            continue
        Lin = 0.0
        ai = 0.0
        ni = 0.0
        for q in range(ptr[v], ptr[v + 1]):
            if S >> adj_j[q] & 1:
                Lin += adj_L[q]
                ai += adj_art[q]
                ni += adj_ns[q]
        ban = fban[top]
        fvb[top] = vb
        c = top + 1
        fS[c] = S | vb
        fh[c] = hv
        fA[c] = fA[top] + area[v]
        fP[c] = fP[top] + perim[v] - 2 * Lin
        fart[c] = fart[top] + ai
        fns[c] = fns[top] + ni
        fnsdeg[c] = fnsdeg[top] + nsdeg[v]
        fX[c] = (X | (nb[v] & mask & ~S & ~ban)) & ~vb
        fban[c] = ban
        top = c
        cnt[0] += 1
        if cnt[0] > budget:
            return -1
        if hv >= lo_h:
            buf_c[off + k] = _cost(p, fh[c], fA[c], fP[c], fart[c], fnsdeg[c] - 2 * fns[c], strict)
            buf_s[off + k] = fS[c]
            k += 1
    order = np.argsort(buf_c[off:off + k], kind="mergesort")
    cs = buf_c[off:off + k][order].copy()
    ss = buf_s[off:off + k][order].copy()
    buf_c[off:off + k] = cs
    buf_s[off:off + k] = ss
    return k

@njit(cache=True, nogil=True)
def _mask_h(mask, h):  # pragma: no cover - compiled
    H = 0.0
    m = mask
    while m:
        i = _low_bit(m)
        H += h[i]
        m &= m - 1
    return H

@njit(cache=True, nogil=True)
def _window(mask, r, strict, h, p):  # pragma: no cover - compiled
    """(feasible, lo_h, hi_h) of :meth:`.exact.ExactDP.best` for ``mask`` and ``r`` parts."""
    lo, hi = p[0], p[1]
    if not strict:
        return True, 0.0, hi
    H = _mask_h(mask, h)
    if r < 1 or H < r * lo or H > r * hi:
        return False, 0.0, 0.0
    lo_h = max(lo, H - (r - 1) * hi)
    hi_h = min(hi, H - (r - 1) * lo)
    return lo_h <= hi_h, lo_h, hi_h

@njit(cache=True, nogil=True)
def _best(full, r0, strict, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, cnt, budget,
          memo_c, memo_s):  # pragma: no cover - compiled
    """:meth:`.exact.ExactDP.best` of ``full`` by ``r0`` parts, with an explicit stack of calls (the
    same calls in the same order); returns (value, over budget)."""
    n = len(h)
    buf_c = np.empty(budget + 2)
    buf_s = np.empty(budget + 2, np.int64)
    fmask = np.empty(n + 2, np.int64)
    fr = np.empty(n + 2, np.int64)
    foff = np.empty(n + 2, np.int64)
    fn = np.empty(n + 2, np.int64)
    fi = np.empty(n + 2, np.int64)
    fbc = np.empty(n + 2)
    fbs = np.empty(n + 2, np.int64)
    top = -1
    used = 0
    mask = full
    r = r0
    ret = 0.0
    while True:
        # a call best(mask, r): answered at once, or a new frame
        immediate = True
        if mask == 0:
            ret = 0.0 if r <= 0 else np.inf
        elif mask * 4096 + r in memo_c:
            ret = memo_c[mask * 4096 + r]
        else:
            ok, lo_h, hi_h = _window(mask, r, strict, h, p)
            if not ok:
                memo_c[mask * 4096 + r] = np.inf
                memo_s[mask * 4096 + r] = 0
                ret = np.inf
            else:
                k = _sets(mask, lo_h, hi_h, strict, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb,
                          p, cnt, budget, buf_c, buf_s, used)
                if k < 0:
                    return np.inf, True
                top += 1
                fmask[top] = mask
                fr[top] = r
                foff[top] = used
                fn[top] = k
                fi[top] = 0
                fbc[top] = np.inf
                fbs[top] = 0
                used += k
                immediate = False
        # returns and next calls
        while True:
            if immediate:
                if top < 0:
                    return ret, False
                # the value of the call for candidate fi[top]
                c = buf_c[foff[top] + fi[top]]
                if c + ret < fbc[top]:
                    fbc[top] = c + ret
                    fbs[top] = buf_s[foff[top] + fi[top]]
                fi[top] += 1
            i = fi[top]
            if i < fn[top] and buf_c[foff[top] + i] < fbc[top]:
                mask = fmask[top] & ~buf_s[foff[top] + i]
                r = fr[top] - 1 if strict else 0
                break
            key = fmask[top] * 4096 + fr[top]
            memo_c[key] = fbc[top]
            memo_s[key] = fbs[top]
            ret = fbc[top]
            used = foff[top]
            top -= 1
            immediate = True

@njit(cache=True, nogil=True)
def _first(full, r0, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, cnt, budget, failed,
           out):  # pragma: no cover - compiled
    """:meth:`.exact.ExactDP.first` with an explicit stack: True with the parts in ``out[:r0]``;
    False when there are none or the search went over budget."""
    buf_c = np.empty(budget + 2)
    buf_s = np.empty(budget + 2, np.int64)
    depth_max = r0 + 2
    fmask = np.empty(depth_max, np.int64)
    fr = np.empty(depth_max, np.int64)
    foff = np.empty(depth_max, np.int64)
    fn = np.empty(depth_max, np.int64)
    fi = np.empty(depth_max, np.int64)
    top = -1
    used = 0
    mask = full
    r = r0
    while True:
        # a call first(mask, r): True/False at once, or a new frame
        immediate = True
        res = False
        if mask == 0:
            res = r == 0
        elif mask * 4096 + r in failed:
            res = False
        else:
            ok, lo_h, hi_h = _window(mask, r, True, h, p)
            if r < 1 or not ok:
                failed[mask * 4096 + r] = True
                res = False
            else:
                k = _sets(mask, lo_h, hi_h, True, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p,
                          cnt, budget, buf_c, buf_s, used)
                if k < 0:
                    return False
                top += 1
                fmask[top] = mask
                fr[top] = r
                foff[top] = used
                fn[top] = k
                fi[top] = -1
                used += k
                immediate = False
        while True:
            if immediate and res:
                return True  # every caller returns [S, *rest]
            if top < 0:
                return False
            fi[top] += 1
            i = fi[top]
            if i < fn[top]:
                out[top] = buf_s[foff[top] + i]
                mask = fmask[top] & ~buf_s[foff[top] + i]
                r = fr[top] - 1
                break
            failed[fmask[top] * 4096 + fr[top]] = True
            used = foff[top]
            top -= 1
            immediate = True
            res = False

@njit(cache=True, nogil=True)
def _exact(n, k, strict, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, budget):  # pragma: no cover
    """Status (0: parts found, 1: none) and the parts as bitmasks; see :func:`exact_parts`."""
    full = (1 << n) - 1
    cnt = np.zeros(1, np.int64)
    memo_c = _Dict.empty(key_type=_nbt.int64, value_type=_nbt.float64)
    memo_s = _Dict.empty(key_type=_nbt.int64, value_type=_nbt.int64)
    parts = np.zeros(n + 1, np.int64)
    r = k if strict else 0
    val, over = _best(full, r, strict, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, cnt,
                      budget, memo_c, memo_s)
    if not over:
        if strict and val == np.inf:
            return 1, parts[:0]
        mask = full
        m = 0
        while mask:
            S = memo_s[mask * 4096 + r]
            parts[m] = S
            m += 1
            mask &= ~S
            r = r - 1 if strict else 0
        return 0, parts[:m]
    if not strict:
        return 1, parts[:0]
    # the optimum is out of reach: a feasible division, cheapest sets first
    cnt[0] = 0
    failed = _Dict.empty(key_type=_nbt.int64, value_type=_nbt.boolean)
    out = np.zeros(max(k, 0) + 2, np.int64)
    if _first(full, k, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, cnt, budget, failed, out):
        m = 0
        mask = full
        while mask:
            mask &= ~out[m]
            m += 1
        return 0, out[:m].copy()
    return 1, parts[:0]



@njit(cache=True, nogil=True)
def _exact_adjacency(n, a, b, length, art, ns):  # pragma: no cover - compiled
    """What :func:`_exact` takes of the graph of edges ``(a, b)``: each node's adjacency in edge order (the order
    :class:`.exact.ExactDP` appends them in; ``ptr``, neighbour, and the edges' length, arterial and no-street
    columns), the no-street length summed at both ends in edge order, and the neighbours as bitmasks."""
    m = len(a)
    ptr = np.zeros(n + 1, np.int64)
    for e in range(m):
        ptr[a[e] + 1] += 1
        ptr[b[e] + 1] += 1
    for v in range(n):
        ptr[v + 1] += ptr[v]
    fill = ptr[:n].copy()
    adj_j = np.empty(2 * m, np.int64)
    adj_L = np.empty(2 * m)
    adj_art = np.empty(2 * m)
    adj_ns = np.empty(2 * m)
    nsdeg = np.zeros(n)
    nb = np.zeros(n, np.int64)
    for e in range(m):
        x = a[e]
        y = b[e]
        i = fill[x]
        fill[x] += 1
        adj_j[i] = y
        adj_L[i] = length[e]
        adj_art[i] = art[e]
        adj_ns[i] = ns[e]
        i = fill[y]
        fill[y] += 1
        adj_j[i] = x
        adj_L[i] = length[e]
        adj_art[i] = art[e]
        adj_ns[i] = ns[e]
        nsdeg[x] += ns[e]
        nsdeg[y] += ns[e]
        nb[x] |= np.int64(1) << y
        nb[y] |= np.int64(1) << x
    return ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb


@njit(cache=True, nogil=True)
def _exact_graph(n, k, strict, h, area, perim, a, b, length, art, ns, p, budget):  # pragma: no cover - compiled
    """:func:`_exact` on the graph of edges ``(a, b)``, its adjacency made by :func:`_exact_adjacency` in the same
    call (it was made in numpy before each search: a dozen calls for a graph of seven nodes on average)."""
    ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb = _exact_adjacency(n, a, b, length, art, ns)
    return _exact(n, k, strict, h, area, perim, ptr, adj_j, adj_L, adj_art, adj_ns, nsdeg, nb, p, budget)


@njit(cache=True, nogil=True)
def _all_sets(mask, hl, nb, hi, cnt, budget, buf_s, buf_h, off):  # pragma: no cover - compiled
    """Connected sets (within ``hi``) holding the lowest cell of ``mask`` in the order of the recursive
    enumeration of :class:`.subgrids.SmallGridBadness` (explicit stack), from ``off``; -1 over budget."""
    n = len(hl)
    fS = np.empty(n + 1, np.int64)
    fX = np.empty(n + 1, np.int64)
    fban = np.empty(n + 1, np.int64)
    fvb = np.zeros(n + 1, np.int64)
    fh = np.empty(n + 1, np.int64)
    u = _low_bit(mask)
    fS[0] = 1 << u
    fh[0] = hl[u]
    fX[0] = nb[u] & mask & ~(1 << u)
    fban[0] = 0
    top = 0
    cnt[0] += 1
    if cnt[0] > budget:
        return -1
    buf_s[off] = fS[0]
    buf_h[off] = fh[0]
    k = 1
    while top >= 0:
        X = fX[top]
        if X == 0:
            top -= 1
            if top >= 0:
                fban[top] |= fvb[top]
            continue
        S = fS[top]
        vb = X & -X
        X ^= vb
        fX[top] = X
        v = _low_bit(vb)
        hv = fh[top] + hl[v]
        if hv > hi:
            fban[top] |= vb
            continue
        ban = fban[top]
        fvb[top] = vb
        c = top + 1
        fS[c] = S | vb
        fh[c] = hv
        fX[c] = (X | (nb[v] & mask & ~S & ~ban)) & ~vb
        fban[c] = ban
        top = c
        cnt[0] += 1
        if cnt[0] > budget:
            return -1
        buf_s[off + k] = fS[c]
        buf_h[off + k] = hv
        k += 1
    return k

@njit(cache=True, nogil=True)
def _short_nb(h, lo):  # pragma: no cover - compiled
    return min(lo - h, h) / lo

@njit(cache=True, nogil=True)
def _badness(hl, nb, lo, hi, target, budget):  # pragma: no cover - compiled
    """The dynamic programme of :meth:`.subgrids.SmallGridBadness._solve` over all cells of ``hl``,
    explicit stacks, the same order, sort, pruning and budget: (within budget, count, excess)."""
    n = len(hl)
    full = (1 << n) - 1
    cnt = np.zeros(1, np.int64)
    buf_s = np.empty(budget + 2, np.int64)
    buf_h = np.empty(budget + 2, np.int64)
    memo_c = _Dict.empty(key_type=_nbt.int64, value_type=_nbt.int64)
    memo_e = _Dict.empty(key_type=_nbt.int64, value_type=_nbt.float64)
    fmask = np.empty(n + 2, np.int64)
    foff = np.empty(n + 2, np.int64)
    fn = np.empty(n + 2, np.int64)
    fi = np.empty(n + 2, np.int64)
    frc = np.empty(n + 2, np.int64)
    fre = np.empty(n + 2)
    top = -1
    used = 0
    mask = full
    rc = 0
    re = 0.0
    while True:
        immediate = True
        if mask == 0:
            rc, re = 0, 0.0
        elif mask in memo_c:
            rc, re = memo_c[mask], memo_e[mask]
        else:
            k = _all_sets(mask, hl, nb, hi, cnt, budget, buf_s, buf_h, used)
            if k < 0:
                return False, 0, 0.0
            # within the bounds first (nearest the target first), then the short ones, largest first
            keys = np.empty(k, np.int64)
            for q in range(k):
                x = buf_h[used + q]
                keys[q] = (1_000_000_000 - x) if x < lo else abs(x - target)
            order = np.argsort(keys, kind="mergesort")
            ss = buf_s[used:used + k][order].copy()
            hh = buf_h[used:used + k][order].copy()
            buf_s[used:used + k] = ss
            buf_h[used:used + k] = hh
            top += 1
            fmask[top] = mask
            foff[top] = used
            fn[top] = k
            fi[top] = -1
            frc[top] = n + 1
            fre[top] = np.inf
            used += k
            immediate = False
        while True:
            if immediate:
                if top < 0:
                    return True, rc, re
                x = buf_h[foff[top] + fi[top]]
                if x < lo:
                    cc, ce = rc + 1, re + _short_nb(x, lo)
                else:
                    cc, ce = rc, re
                if cc < frc[top] or (cc == frc[top] and ce < fre[top]):
                    frc[top] = cc
                    fre[top] = ce
                    if cc == 0 and ce == 0.0:
                        fi[top] = fn[top]  # break
            # the next candidate worth a call
            i = fi[top] + 1
            while i < fn[top]:
                x = buf_h[foff[top] + i]
                if x < lo and frc[top] <= 1 and fre[top] <= _short_nb(x, lo):
                    i += 1
                    continue
                break
            if i < fn[top]:
                fi[top] = i
                mask = fmask[top] & ~buf_s[foff[top] + i]
                break
            memo_c[fmask[top]] = frc[top]
            memo_e[fmask[top]] = fre[top]
            rc, re = frc[top], fre[top]
            used = foff[top]
            top -= 1
            immediate = True


@njit(cache=True, nogil=True)
def _tree_cuts(nl, ea, eb, orders, base, W, tags, k, H, A, E, lo, hi, target, t, compact, cut_w, cross, lref, balance,
               margin, strict, band):  # pragma: no cover - compiled
    """The spanning trees of one call of :meth:`.solver._Solver._candidates` (a row of ``orders`` each: the
    edges in weight order) and their cuts, each tree as ``_kruskal_dfs``, ``_sizes_depths_lca``,
    ``_subtree_sums`` and ``_cut_scores`` give it (the same kernels, in one call): the trees' preorders (a
    row each), then per cut its tree, row, cut index, violation, score, preorder interval ``[lo, hi)`` and
    side tag (trees in order, each tree's cuts in ``_cut_scores``' order), then the first tree whose edges
    do not connect the nodes (-1 when all do; the cuts are then those of the trees before it)."""
    T = orders.shape[0]
    m = nl - 1
    per = max(k - 1, 0) * m if band <= 0 else min(max(k - 1, 0), 2 * band + 2) * m
    pres = np.zeros((T, nl), np.int64)
    tt = np.empty(T * per, np.int64)
    rows = np.empty(T * per, np.int64)
    cols = np.empty(T * per, np.int64)
    vg = np.empty(T * per)
    score = np.empty(T * per)
    lo_o = np.empty(T * per, np.int64)
    hi_o = np.empty(T * per, np.int64)
    side_o = np.empty(T * per, np.uint64)
    q = 0
    for ti in range(T):
        o = orders[ti]
        pre, par, ok = _kruskal_dfs(nl, ea[o], eb[o])
        if not ok:
            return pres, tt[:q], rows[:q], cols[:q], vg[:q], score[:q], lo_o[:q], hi_o[:q], side_o[:q], ti
        size, _depth, lca = _sizes_depths_lca(pre, par, ea, eb)
        pres[ti] = pre
        lo_i, hi_i, sub, side = _subtree_sums(pre, size, lca, base, W, tags)
        r, c, v, s = _cut_scores(sub, size[pre[1:]], nl, k, H, A, E, lo, hi, target, t, compact, cut_w, cross, lref,
                                 balance, margin, strict, band)
        for i in range(len(r)):
            j = c[i]
            tt[q] = ti
            rows[q] = r[i]
            cols[q] = j
            vg[q] = v[i]
            score[q] = s[i]
            lo_o[q] = lo_i[j]
            hi_o[q] = hi_i[j]
            side_o[q] = side[j]
            q += 1
    return pres, tt[:q], rows[:q], cols[:q], vg[:q], score[:q], lo_o[:q], hi_o[:q], side_o[:q], -1


@njit(cache=True, nogil=True)
def _cut_less(i, j, vg, score, col):  # pragma: no cover - compiled
    """Cut ``i`` before cut ``j`` of the same tree and count: by violation, score, then cut index."""
    if vg[i] != vg[j]:
        return vg[i] < vg[j]
    if score[i] != score[j]:
        return score[i] < score[j]
    return col[i] < col[j]


@njit(cache=True, nogil=True)
def _win_less(p1, p0, kept, rows, vg, score, ktag, kk, k, q):  # pragma: no cover - compiled
    """Winner ``p1`` (a position into ``kept``) before winner ``p0`` in ``_rank_tree_cuts``' final order: balanced
    first (when ``q`` > 0: k1 within ``[q, k - q]``), then by violation, score, k1, tag, key k1."""
    i1, i0 = kept[p1], kept[p0]
    k1a, k1b = rows[i1] + 1, rows[i0] + 1
    if q > 0:
        ua = not (q <= k1a and k1a <= k - q)
        ub = not (q <= k1b and k1b <= k - q)
        if ua != ub:
            return ub
    if vg[i1] != vg[i0]:
        return vg[i1] < vg[i0]
    if score[i1] != score[i0]:
        return score[i1] < score[i0]
    if k1a != k1b:
        return k1a < k1b
    if ktag[p1] != ktag[p0]:
        return ktag[p1] < ktag[p0]
    return kk[p1] < kk[p0]


@njit(cache=True, nogil=True)
def _rank_tree_cuts(tt, rows, cols, vg, score, side, total_tag, k, per_group, n, q):  # pragma: no cover - compiled
    """The ranking of :func:`.solver._rank_cuts` over the cuts of ``_tree_cuts`` (trees in order, each
    tree's cuts row-major, cut index ascending): per tree and count the first ``per_group`` cuts by
    (violation, score, cut index) (``np.lexsort((cols, score, vg, rows, tt))`` then the first of each
    group), met in that order; per bisection (side tag and k1, or the other side's when its tag is
    smaller) the least (violation, score), the first met among equals; then the ``n`` best by (unbalanced
    when ``q`` > 0: k1 outside ``[q, k - q]``), violation, score, k1, tag, key k1. Returns their indices
    into the cuts, best first, or -1 at index 0 when a violation or score is NaN (the caller sorts them
    itself)."""
    m = len(tt)
    for i in range(m):
        if np.isnan(vg[i]) or np.isnan(score[i]):
            out = np.full(1, -1, np.int64)
            return out
    # 1. the first per_group of each (tree, count) run, in order
    kept = np.empty(m, np.int64)
    nk = 0
    s = 0
    buf = np.empty(max(per_group, 1), np.int64)
    while s < m:
        e = s + 1
        while e < m and tt[e] == tt[s] and rows[e] == rows[s]:
            e += 1
        # the first per_group by (violation, score, cut index), a strict order (a run's cut indices differ): kept
        # sorted in a buffer as the run is read once, instead of per_group scans of the run
        nb = 0
        for i in range(s, e):
            if per_group <= 0 or nb == per_group and not _cut_less(i, buf[nb - 1], vg, score, cols):
                continue
            pos = nb if nb < per_group else nb - 1
            while pos > 0 and _cut_less(i, buf[pos - 1], vg, score, cols):
                buf[pos] = buf[pos - 1]
                pos -= 1
            buf[pos] = i
            if nb < per_group:
                nb += 1
        for r in range(nb):
            kept[nk] = buf[r]
            nk += 1
        s = e
    kept = kept[:nk]
    # 2. per bisection, the least (violation, score), the first met among equals
    ktag = np.empty(nk, np.uint64)
    kk = np.empty(nk, np.int64)
    for p in range(nk):
        i = kept[p]
        tag = side[i]
        other = tag ^ total_tag
        k1 = rows[i] + 1
        if tag <= other:
            ktag[p] = tag
            kk[p] = k1
        else:
            ktag[p] = other
            kk[p] = k - k1
    order = np.argsort(ktag, kind="mergesort")  # stable: positions of equal tags stay in meeting order
    win = np.empty(nk, np.int64)  # positions p into kept
    nw = 0
    done = np.zeros(nk, np.bool_)
    s = 0
    while s < nk:
        e = s + 1
        while e < nk and ktag[order[e]] == ktag[order[s]]:
            e += 1
        for a in range(s, e):
            pa = order[a]
            if done[pa]:
                continue
            best = pa
            for b in range(a + 1, e):
                pb = order[b]
                if kk[pb] != kk[pa]:
                    continue
                done[pb] = True
                ib, ibest = kept[pb], kept[best]
                if vg[ib] < vg[ibest] or (vg[ib] == vg[ibest] and score[ib] < score[ibest]):
                    best = pb
            win[nw] = best
            nw += 1
        s = e
    # 3. the n best winners, by a strict order (each winner's tag and key k1 differ): kept sorted in a buffer as the
    # winners are read once, instead of n scans of them
    n = min(n, nw)
    out = np.empty(n, np.int64)
    buf = np.empty(max(n, 1), np.int64)
    nb = 0
    for w in range(nw):
        if n == 0 or (nb == n and not _win_less(win[w], win[buf[nb - 1]], kept, rows, vg, score, ktag, kk, k, q)):
            continue
        pos = nb if nb < n else nb - 1
        while pos > 0 and _win_less(win[w], win[buf[pos - 1]], kept, rows, vg, score, ktag, kk, k, q):
            buf[pos] = buf[pos - 1]
            pos -= 1
        buf[pos] = w
        if nb < n:
            nb += 1
    for r in range(n):
        out[r] = kept[win[buf[r]]]
    return out


@njit(cache=True, nogil=True)
def _contract(k, labels, h, area, perim, x, y, a, b, length, art, nostreet):  # pragma: no cover - compiled
    """The sums of :func:`.graph.contract`, each added in the order ``np.bincount`` adds it (input order, from
    0.0): per group its households (float, rounded by the caller), area, perimeter less twice its inner
    edges, and the point of its member of largest area (the first among equals, as the stable
    ``np.lexsort``); the edges between groups sorted by ``(a, b)`` (``np.unique`` of ``a * k + b``) with
    their lengths summed in edge order."""
    n = len(labels)
    hs = np.zeros(k)
    ar = np.zeros(k)
    pe = np.zeros(k)
    internal = np.zeros(k)
    first = np.full(k, -1, np.int64)
    for i in range(n):
        g = labels[i]
        hs[g] += h[i]
        ar[g] += area[i]
        pe[g] += perim[i]
        f = first[g]
        if f < 0 or -area[i] < -area[f]:
            first[g] = i
    m = len(a)
    keys = np.empty(m, np.int64)
    eidx = np.empty(m, np.int64)
    q = 0
    for e in range(m):
        ga = labels[a[e]]
        gb = labels[b[e]]
        if ga == gb:
            internal[ga] += length[e]
        else:
            keys[q] = min(ga, gb) * k + max(ga, gb)
            eidx[q] = e
            q += 1
    for g in range(k):
        pe[g] = pe[g] - 2 * internal[g]
    xs = np.zeros(k)
    ys = np.zeros(k)
    for g in range(k):
        if first[g] >= 0:
            xs[g] = x[first[g]]
            ys[g] = y[first[g]]
    keys = keys[:q]
    eidx = eidx[:q]
    order = np.argsort(keys, kind="mergesort")  # stable: equal keys in edge order
    na = 0
    for j in range(q):
        if j == 0 or keys[order[j]] != keys[order[j - 1]]:
            na += 1
    oa = np.empty(na, np.int64)
    ob = np.empty(na, np.int64)
    ol = np.zeros(na)
    ot = np.zeros(na)
    on = np.zeros(na)
    u = -1
    for j in range(q):
        e = eidx[order[j]]
        if j == 0 or keys[order[j]] != keys[order[j - 1]]:
            u += 1
            oa[u] = keys[order[j]] // k
            ob[u] = keys[order[j]] % k
        ol[u] += length[e]
        ot[u] += art[e]
        on[u] += nostreet[e]
    return hs, ar, pe, xs, ys, oa, ob, ol, ot, on


@njit(cache=True, nogil=True)
def _comp_nb(P, A, k4pi):  # pragma: no cover - compiled
    return P * P / (k4pi * A) if A > 0 else 0.0


@njit(cache=True, nogil=True)
def _viol_nb(x, lo, hi):  # pragma: no cover - compiled
    return max(0.0, max(lo - x, x - hi))


@njit(cache=True, nogil=True)
def _bal_nb(x, lo, target, margin):  # pragma: no cover - compiled
    d = (x - target) / target
    if margin > 0 and x < lo + margin:
        m = min(1.0, (lo + margin - x) / margin)
        return d * d + m * m
    return d * d


@njit(cache=True, nogil=True)
def _flood(s, part, skip, indptr, nbr, lab, seen, stack):  # pragma: no cover - compiled
    """Mark in ``seen`` the connected piece of the nodes labelled ``part`` that holds node ``s`` (node ``skip``
    and nodes already seen left out); the number of nodes it marked. ``stack``: scratch of at least n."""
    seen[s] = True
    stack[0] = s
    top = 1
    count = 1
    while top:
        top -= 1
        x = stack[top]
        for i in range(indptr[x], indptr[x + 1]):
            y = nbr[i]
            if not seen[y] and y != skip and lab[y] == part:
                seen[y] = True
                stack[top] = y
                top += 1
                count += 1
    return count


@njit(cache=True, nogil=True)
def _connected_without(u, part, need, indptr, nbr, lab):  # pragma: no cover - compiled
    start = -1
    for i in range(indptr[u], indptr[u + 1]):
        if lab[nbr[i]] == part:
            start = nbr[i]
            break
    if start < 0:
        return need == 0
    seen = np.zeros(len(lab), np.bool_)
    return _flood(start, part, u, indptr, nbr, lab, seen, np.empty(len(lab), np.int64)) == need


@njit(cache=True, nogil=True)
def _improve(indptr, nbr, eL, eArt, eNs, hs, areas, perims, lab, ph, pa, pp, size, frozen, lo, hi, target, lref,
             compact, cross, cut_w, balance, margin, sweeps):  # pragma: no cover - compiled
    """The local search of :meth:`.solver._Solver._improve` (boundary units moved to the neighbouring part
    that lowers the objective most), the same sweeps, order, sums and choices: ``lab``, ``ph``, ``pa``,
    ``pp`` and ``size`` updated in place. The adjacency (``indptr``, ``nbr`` and each entry's length,
    arterial and no-street length) lists each unit's edges in edge order, as the Python's lists do."""
    n = len(lab)
    k4pi = 4 * np.pi
    parts = np.empty(n + 1, np.int64)
    sL = np.empty(n + 1)
    sArt = np.empty(n + 1)
    sNs = np.empty(n + 1)
    sN = np.empty(n + 1, np.int64)
    for _sweep in range(sweeps):
        moved = 0
        for u in range(n):
            A = lab[u]
            if frozen[A] or size[A] <= 1:
                continue
            np_ = 0
            hasA = False
            for i in range(indptr[u], indptr[u + 1]):
                p = lab[nbr[i]]
                j = 0
                while j < np_ and parts[j] != p:
                    j += 1
                if j == np_:
                    parts[j] = p
                    sL[j] = eL[i]
                    sArt[j] = eArt[i]
                    sNs[j] = eNs[i]
                    sN[j] = 1
                    np_ += 1
                    if p == A:
                        hasA = True
                else:
                    sL[j] += eL[i]
                    sArt[j] += eArt[i]
                    sNs[j] += eNs[i]
                    sN[j] += 1
            if np_ < 2 and hasA:
                continue
            LA, artA, nsA, nA = 0.0, 0.0, 0.0, 0
            for j in range(np_):
                if parts[j] == A:
                    LA, artA, nsA, nA = sL[j], sArt[j], sNs[j], sN[j]
            hu, au, pu = hs[u], areas[u], perims[u]
            hA, hA2 = ph[A], ph[A] - hu
            base_A = _comp_nb(pp[A], pa[A], k4pi)
            newPA = pp[A] - pu + 2 * LA
            newAA = pa[A] - au
            found = False
            b_dv, b_d, b_B, b_P = 0.0, 0.0, 0, 0.0
            for j in range(np_):
                B = parts[j]
                if B == A or frozen[B]:
                    continue
                LB, artB, nsB = sL[j], sArt[j], sNs[j]
                hB, hB2 = ph[B], ph[B] + hu
                dv = _viol_nb(hA2, lo, hi) + _viol_nb(hB2, lo, hi) - _viol_nb(hA, lo, hi) - _viol_nb(hB, lo, hi)
                if dv > 0:
                    continue
                newPB = pp[B] + pu - 2 * LB
                d = (compact * (_comp_nb(newPA, newAA, k4pi) + _comp_nb(newPB, pa[B] + au, k4pi) - base_A
                                - _comp_nb(pp[B], pa[B], k4pi))
                     + (cross * (artB - artA) + cut_w * (nsA - nsB)) / lref
                     + balance * (_bal_nb(hA2, lo, target, margin) + _bal_nb(hB2, lo, target, margin)
                                  - _bal_nb(hA, lo, target, margin) - _bal_nb(hB, lo, target, margin)))
                if dv < 0 or d < -1e-9:
                    # the least (dv, d, B, newPB), as the Python's sorted options
                    if (not found or dv < b_dv or (dv == b_dv and (d < b_d or (d == b_d and (B < b_B or (
                            B == b_B and newPB < b_P)))))):
                        found = True
                        b_dv, b_d, b_B, b_P = dv, d, B, newPB
            if not found:
                continue
            if not (nA < 2 or _connected_without(u, A, size[A] - 1, indptr, nbr, lab)):
                continue
            B = b_B
            lab[u] = B
            ph[A] -= hu
            ph[B] += hu
            pa[A] = newAA
            pa[B] += au
            pp[A] = newPA
            pp[B] = b_P
            size[A] -= 1
            size[B] += 1
            moved += 1
        if not moved:
            break


@njit(cache=True, nogil=True)
def _region_arrays(nodes, a, b, length, edge_w, perim, h, area, tags):  # pragma: no cover - compiled
    """The inputs :meth:`.solver._Solver._candidates` draws its trees over, for the region ``nodes`` of a
    graph of edges ``(a, b)``: the region's edges (their indices, ascending, and their ends renumbered as
    the position of the node in ``nodes``), each node's households (float), area and outside perimeter
    (its perimeter less its edges in the region: the lengths summed per end as ``np.bincount`` sums them,
    ``a`` ends then ``b`` ends, the two added), the node columns ``[h, area, ext, deg_w]`` (``deg_w``: the
    edge columns ``edge_w`` summed at both ends, ``a`` ends then ``b`` ends, as ``np.add.at``), the edges'
    ``edge_w`` rows and the xor of the nodes' tags."""
    n_all = len(h)
    nl = len(nodes)
    loc = np.full(n_all, -1, np.int64)
    for i in range(nl):
        loc[nodes[i]] = i
    m_all = len(a)
    eidx = np.empty(m_all, np.int64)
    q = 0
    for e in range(m_all):
        if loc[a[e]] >= 0 and loc[b[e]] >= 0:
            eidx[q] = e
            q += 1
    eidx = eidx[:q]
    ea = np.empty(q, np.int64)
    eb = np.empty(q, np.int64)
    W = np.empty((q, 3))
    for j in range(q):
        e = eidx[j]
        ea[j] = loc[a[e]]
        eb[j] = loc[b[e]]
        for c in range(3):
            W[j, c] = edge_w[e, c]
    in_a = np.zeros(nl)
    in_b = np.zeros(nl)
    for j in range(q):
        in_a[ea[j]] += length[eidx[j]]
    for j in range(q):
        in_b[eb[j]] += length[eidx[j]]
    hh = np.empty(nl)
    ar = np.empty(nl)
    ext = np.empty(nl)
    total = np.uint64(0)
    for i in range(nl):
        u = nodes[i]
        hh[i] = h[u]
        ar[i] = area[u]
        ext[i] = perim[u] - (in_a[i] + in_b[i])
        total ^= tags[u]
    cols = np.zeros((nl, 6))
    for j in range(q):
        for c in range(3):
            cols[ea[j], 3 + c] += W[j, c]
    for j in range(q):
        for c in range(3):
            cols[eb[j], 3 + c] += W[j, c]
    for i in range(nl):
        cols[i, 0] = hh[i]
        cols[i, 1] = ar[i]
        cols[i, 2] = ext[i]
    return eidx, ea, eb, hh, ar, ext, cols, W, total


@njit(cache=True, nogil=True)
def _region_graph(nodes, a, b, h, area, perim, x, y, length, art, nostreet):  # pragma: no cover - compiled
    """The graph induced by ``nodes`` (as :func:`.graph.subgraph`: nodes renumbered in the given order, its
    edges in edge order with ends swapped so that ``a < b``) contracted as :func:`.exact.zero_contraction`
    then :func:`.graph.contract` contract it when its nodes all have households (each its own group) or none
    has (one group): ``ok`` True, the labels and what ``_contract`` gives. ``ok`` False when some nodes have
    households and others not (the caller then contracts in Python)."""
    n_all = len(h)
    nl = len(nodes)
    loc = np.full(n_all, -1, np.int64)
    for i in range(nl):
        loc[nodes[i]] = i
    sh = np.empty(nl)
    sarea = np.empty(nl)
    sperim = np.empty(nl)
    sx = np.empty(nl)
    sy = np.empty(nl)
    zeros = 0
    for i in range(nl):
        u = nodes[i]
        sh[i] = h[u]
        sarea[i] = area[u]
        sperim[i] = perim[u]
        sx[i] = x[u]
        sy[i] = y[u]
        if h[u] == 0:
            zeros += 1
    labels = np.zeros(nl, np.int64)
    if 0 < zeros < nl:
        return False, labels, _contract(1, labels, sh, sarea, sperim, sx, sy, np.zeros(0, np.int64),
                                        np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0))
    m_all = len(a)
    eidx = np.empty(m_all, np.int64)
    sa = np.empty(m_all, np.int64)
    sb = np.empty(m_all, np.int64)
    q = 0
    for e in range(m_all):
        la = loc[a[e]]
        lb = loc[b[e]]
        if la >= 0 and lb >= 0:
            eidx[q] = e
            sa[q] = min(la, lb)
            sb[q] = max(la, lb)
            q += 1
    slen = np.empty(q)
    sart = np.empty(q)
    sns = np.empty(q)
    for j in range(q):
        slen[j] = length[eidx[j]]
        sart[j] = art[eidx[j]]
        sns[j] = nostreet[eidx[j]]
    k = 1
    if zeros == 0:
        k = nl
        for i in range(nl):
            labels[i] = i
    return True, labels, _contract(k, labels, sh, sarea, sperim, sx, sy, sa[:q], sb[:q], slen, sart, sns)


@njit(cache=True, nogil=True)
def _sweep_orders(nodes, gx, gy, ea, eb, cs, sn):  # pragma: no cover - compiled
    """The sweep trees' edge orders of :meth:`.solver._Solver._sweep_orders`, the same values: a row per direction
    (``cs``, ``sn``: its cosine and sine; none without directions)."""
    m = len(ea)
    S = len(cs)
    if S == 0 or m == 0:
        return np.empty((0, m), np.int64)
    nl = len(nodes)
    p = np.empty(nl)
    wt = np.empty(m)
    out = np.empty((S, m), np.int64)
    for d in range(S):
        for i in range(nl):
            p[i] = cs[d] * gx[nodes[i]] + sn[d] * gy[nodes[i]]
        for e in range(m):
            wt[e] = max(p[ea[e]], p[eb[e]])
        out[d] = np.argsort(wt, kind="mergesort")
    return out


@njit(cache=True, nogil=True)
def _ranked_candidates(nl, ea, eb, tw, rnd, gx, gy, cs, sn, nodes, base, W, tags, total_tag, k, H, A, E, lo, hi,
                       target, t, compact, cut_w, cross, lref, balance, margin, strict, band, per_group, n,
                       q):  # pragma: no cover - compiled
    """One call of :meth:`.solver._Solver._candidates` on the compiled path, from its random numbers ``rnd`` (a
    row per tree) to its candidates: each tree's edge weights ``tw * (0.2 + rnd)`` in stable order (the same
    permutation as numpy's stable argsort), the trees and cuts of ``_tree_cuts``, the ranking of
    ``_rank_tree_cuts`` and each ranked cut's side as the sorted nodes of ``nodes`` under its subtree. Returns
    (the first tree that does not connect the nodes or -1, whether a violation or score is NaN (nothing ranked),
    violations, scores and k1 of the ranked cuts best first, their sides one after another, the sides'
    offsets)."""
    T = rnd.shape[0]
    m = rnd.shape[1]
    xorders = _sweep_orders(nodes, gx, gy, ea, eb, cs, sn)
    X = xorders.shape[0]
    orders = np.empty((T + X, m), np.int64)
    wt = np.empty(m)
    for ti in range(T):
        for e in range(m):
            wt[e] = tw[e] * (0.2 + rnd[ti, e])
        orders[ti] = np.argsort(wt, kind="mergesort")
    for ti in range(X):
        orders[T + ti] = xorders[ti]
    pres, tt, rows, cols, vg, score, lo_c, hi_c, side_c, failed = _tree_cuts(
        nl, ea, eb, orders, base, W, tags, k, H, A, E, lo, hi, target, t, compact, cut_w, cross, lref, balance, margin,
        strict, band)
    none_f = np.empty(0)
    none_i = np.empty(0, np.int64)
    offs0 = np.zeros(1, np.int64)
    if failed >= 0:
        return failed, False, none_f, none_f, none_i, none_i, offs0
    if len(tt) == 0:
        return -1, False, none_f, none_f, none_i, none_i, offs0
    top = _rank_tree_cuts(tt, rows, cols, vg, score, side_c, total_tag, k, per_group, n, q)
    if len(top) and top[0] < 0:
        return -1, True, none_f, none_f, none_i, none_i, offs0
    r = len(top)
    offs = np.zeros(r + 1, np.int64)
    for i in range(r):
        offs[i + 1] = offs[i] + hi_c[top[i]] - lo_c[top[i]]
    sides = np.empty(offs[r], np.int64)
    out_v = np.empty(r)
    out_s = np.empty(r)
    out_k = np.empty(r, np.int64)
    for i in range(r):
        c = top[i]
        pre = pres[tt[c]]
        seg = np.empty(hi_c[c] - lo_c[c], np.int64)
        for p in range(lo_c[c], hi_c[c]):
            seg[p - lo_c[c]] = nodes[pre[p]]
        sides[offs[i]:offs[i + 1]] = np.sort(seg)
        out_v[i] = vg[c]
        out_s[i] = score[c]
        out_k[i] = rows[c] + 1
    return -1, False, out_v, out_s, out_k, sides, offs


# ------------------------------------------------------------------------- the compactness polish (.shapes)

@njit(cache=True, nogil=True)
def _polish_adjacency(n, a, b, length, barrier):  # pragma: no cover - compiled
    """Each node's neighbours as :func:`.shapes.polish_compactness`'s Python lists them (in order of their first
    edge, the lengths of repeated edges summed in edge order) and whether any edge to it is no barrier: CSR
    (indptr, neighbour, length, open)."""
    deg = np.zeros(n + 1, np.int64)
    for e in range(len(a)):
        deg[a[e] + 1] += 1
        deg[b[e] + 1] += 1
    cap = np.cumsum(deg)
    nbr = np.empty(cap[n], np.int64)
    nL = np.empty(cap[n], np.float64)
    op = np.zeros(cap[n], np.bool_)
    cnt = np.zeros(n, np.int64)
    for e in range(len(a)):
        for k in range(2):
            u = a[e] if k == 0 else b[e]
            v = b[e] if k == 0 else a[e]
            s = cap[u]
            j = s
            while j < s + cnt[u] and nbr[j] != v:
                j += 1
            if j == s + cnt[u]:
                nbr[j] = v
                nL[j] = 0.0 + length[e]
                cnt[u] += 1
            else:
                nL[j] = nL[j] + length[e]
            if not barrier[e]:
                op[j] = True
    # packed: each node's entries moved to the front of the next
    indptr = np.zeros(n + 1, np.int64)
    for u in range(n):
        indptr[u + 1] = indptr[u] + cnt[u]
    pn = np.empty(indptr[n], np.int64)
    pl = np.empty(indptr[n], np.float64)
    po = np.empty(indptr[n], np.bool_)
    for u in range(n):
        for i in range(cnt[u]):
            pn[indptr[u] + i] = nbr[cap[u] + i]
            pl[indptr[u] + i] = nL[cap[u] + i]
            po[indptr[u] + i] = op[cap[u] + i]
    return indptr, pn, pl, po


@njit(cache=True, nogil=True)
def _pieces_of(part, skip, indptr, nbr, lab):  # pragma: no cover - compiled
    """Connected pieces of the nodes labelled ``part``, node ``skip`` left out (-1: none)."""
    n = len(lab)
    seen = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int64)
    count = 0
    for s in range(n):
        if lab[s] == part and s != skip and not seen[s]:
            count += 1
            _flood(s, part, skip, indptr, nbr, lab, seen, stack)
    return count


@njit(cache=True, nogil=True)
def _polish_next(start, movable, indptr, nbr, nL, op, lab, size, perim, area, gperim, garea,
                 min_gain):  # pragma: no cover - compiled
    """From position ``start`` of ``movable``, the first node with a move that lowers its two parts' summed
    ``P²/(4πA)`` by more than ``min_gain``, as :func:`.shapes.polish_compactness`'s Python finds it (the same
    sums in the same order, the lowest part of the largest gain): (position, node, part, pa, aa, pb, ab), or
    position -1 when none is left."""
    k4pi = 4 * np.pi
    for pos in range(start, len(movable)):
        c = movable[pos]
        A = lab[c]
        if size[A] <= 1:
            continue
        s, e = indptr[c], indptr[c + 1]
        labs = np.empty(e - s, np.int64)
        sums = np.empty(e - s, np.float64)
        cnt = 0
        for i in range(s, e):
            q = lab[nbr[i]]
            j = 0
            while j < cnt and labs[j] != q:
                j += 1
            if j == cnt:
                labs[j] = q
                sums[j] = 0.0 + nL[i]
                cnt += 1
            else:
                sums[j] = sums[j] + nL[i]
        own = 0.0
        hasA = False
        for j in range(cnt):
            if labs[j] == A:
                own = sums[j]
                hasA = True
        if cnt < 2 and hasA:
            continue
        pa = perim[A] - gperim[c] + 2 * own
        aa = area[A] - garea[c]
        base = perim[A] * perim[A] / (k4pi * area[A]) if area[A] > 0 else np.inf
        ca = pa * pa / (k4pi * aa) if aa > 0 else np.inf
        order = np.argsort(labs[:cnt])
        found = False
        best_gain = 0.0
        best_B = -1
        best_pb = 0.0
        best_ab = 0.0
        for oi in range(cnt):
            j = order[oi]
            B = labs[j]
            if B == A:
                continue
            reach = False
            for i in range(s, e):
                if op[i] and lab[nbr[i]] == B:
                    reach = True
                    break
            if not reach:
                continue
            pb = perim[B] + gperim[c] - 2 * sums[j]
            ab = area[B] + garea[c]
            cb0 = perim[B] * perim[B] / (k4pi * area[B]) if area[B] > 0 else np.inf
            cb = pb * pb / (k4pi * ab) if ab > 0 else np.inf
            gain = base + cb0 - ca - cb
            if gain > min_gain and (not found or gain > best_gain):
                found = True
                best_gain = gain
                best_B = B
                best_pb = pb
                best_ab = ab
        if found:
            return pos, c, best_B, pa, aa, best_pb, best_ab
    return -1, -1, -1, 0.0, 0.0, 0.0, 0.0


@njit(cache=True, nogil=True)
def _part_pieces(k, indptr, nbr, lab):  # pragma: no cover - compiled
    """Connected pieces of the nodes of each label ``0..k-1`` (0 for a label of no node)."""
    n = len(lab)
    out = np.zeros(k, np.int64)
    seen = np.zeros(n, np.bool_)
    stack = np.empty(n, np.int64)
    for s in range(n):
        if not seen[s]:
            out[lab[s]] += 1
            _flood(s, lab[s], -1, indptr, nbr, lab, seen, stack)
    return out
