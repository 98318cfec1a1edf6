"""The jar's beam search (:func:`vislang.metrics.text.meteor_align.search`) for many pairs at once, in numpy.

Same search, same result, step for step: the partial alignments ("paths") of all pairs live in
one set of arrays, ordered by pair and, within a pair, by the jar's beam order; reference
position ``c`` is processed for every pair at once.  Per path: the ranking key (the integer
of :func:`.meteor_align.search`: ``-matches * match_unit + chunks * chunk_unit + distance``),
the line-1 end of its open chunk (-1 if none), the bit masks of used line-1 and line-2 words
and the node of its last chosen match (a parent-linked tree of chosen matches, walked back at the
end).  At position ``c`` a pair is in one of four states, as in the one-pair search:

* a fixed match starts here: every path takes it (key and open chunk updated in place);
* no candidate starts here: paths not inside one of their multi-word matches close their chunk;
* inside a fixed multi-word match: nothing happens;
* otherwise each path branches: for each candidate, in order, a new path if the candidate's words
  are free (its key: the parent's key, the match weight, a new chunk if it does not continue the
  open one, plus the distances of the parent's *earlier* valid candidates -- the jar credits a
  match's distance to the path it branched from, which then passes it on to the later siblings),
  followed by the parent itself (all its valid candidates' distances added, its chunk closed).

Before each position the paths of each pair are stably sorted by key and cut to the beam size
(40): the jar's order, ties included.  Pairs are processed in decreasing order of reference
length, so the pairs still searching are a prefix of the arrays.  Masks are 64-bit integers:
pairs with a line longer than 62 words, or with keys that might not fit, go to the one-pair search.
"""

from __future__ import annotations

from itertools import chain

import numpy as np

from vislang.metrics.text.meteor_align import BEAM_SIZE, _count_chunks, beam, fixed_matches

#: Fewer pairs than this: the one-pair search is faster than numpy's per-call overhead.
MIN_BATCH = 16
#: Pairs searched together (about 40 paths each: the arrays stay in the CPU caches).
MAX_BATCH = 1000
#: Pairs with at most this many candidates besides the fixed matches have small beams: the one-pair
#: search is faster for them.
LIGHT = 3
_MAX_WORDS = 62
_KEY_OFFSET = 1 << 32  # keys are kept in (-2**32, 2**32); the sort key is pair * 2**33 + key + 2**32


def search_many(jobs: list[tuple]) -> list[tuple[dict, int]]:
    """``[(final alignment {ref_start: match}, chunks)]`` of each ``(cands, cov1, cov2, n1, n2)``
    (the output of :func:`.meteor_align.collect` plus the two lengths), equal to
    :func:`.meteor_align.search` on each."""
    results: list = [None] * len(jobs)
    batch = []
    for idx, (cands, cov1, cov2, n1, n2) in enumerate(jobs):
        fixed, used1, used2, ambiguous = fixed_matches(cands, cov1, cov2, n2)
        if not ambiguous:
            results[idx] = (fixed, _count_chunks(fixed, n2))
            continue
        n_cands = sum(map(len, cands))
        chunk_unit = (n_cands + n2 + 1) * (max(n1, n2) + 1)
        match_unit = (n2 + 2) * chunk_unit
        if (n_cands - len(fixed) <= LIGHT or n1 > _MAX_WORDS or n2 > _MAX_WORDS
                or (n1 + n2 + 1) * match_unit >= _KEY_OFFSET):
            results[idx] = beam(cands, n1, n2, fixed, used1, used2)
            continue
        batch.append((n2, idx, cands, fixed, used1, used2, chunk_unit, match_unit))
    if len(batch) < MIN_BATCH:
        for _, idx, cands, fixed, used1, used2, _, _ in batch:
            results[idx] = beam(cands, jobs[idx][3], jobs[idx][4], fixed, used1, used2)
        return results
    for at in range(0, len(batch), MAX_BATCH):
        part = batch[at: at + MAX_BATCH]
        part.sort(key=lambda b: -b[0])  # stable: longest references first
        for (n2, idx, _, fixed, _, _, _, _), final in zip(part, _search_batch(part)):
            final.update(fixed)
            results[idx] = (final, _count_chunks(final, n2))
    return results


def _search_batch(batch: list[tuple]) -> list[dict]:
    """The chosen non-fixed matches ``{ref_start: match}`` of each pair of ``batch``."""
    n_jobs = len(batch)
    n_steps = batch[0][0]
    # (position, pair) cells, flat index c * n_jobs + q, by state; candidates of branching cells
    f_at, f_m, e_at, b_at, b_cnt, o_match = [], [], [], [], [], []
    for q, (_, _, cands, fixed, _, used2, _, _) in enumerate(batch):
        at = q
        for c, opts in enumerate(cands):
            if not opts:
                e_at.append(at)
            elif c in fixed:
                f_at.append(at)
                f_m.append(opts[0])
            elif not (used2 >> c) & 1:
                b_at.append(at)
                b_cnt.append(len(opts))
                o_match += opts
            at += n_jobs
    i64 = np.int64
    n_cells = n_steps * n_jobs
    state = np.zeros(n_cells, dtype=np.int8)
    cell = np.zeros(n_cells, dtype=np.int32)  # index into the fixed or branching arrays
    mu_job = np.array([b[7] for b in batch], dtype=i64)
    if f_at:
        state[f_at] = 1
        cell[f_at] = np.arange(len(f_at))
        fm = np.fromiter(chain.from_iterable(f_m), dtype=i64, count=5 * len(f_m)).reshape(-1, 5)
        f_at = np.array(f_at, dtype=i64)
        fs1 = fm[:, 2]
        fe1 = fs1 + fm[:, 3]
        fd = np.abs(f_at // n_jobs - fs1) - _gains(fm) * mu_job[f_at % n_jobs]
    if e_at:
        state[e_at] = 2
    if b_at:
        state[b_at] = 3
        cell[b_at] = np.arange(len(b_at))
        bcnt = np.array(b_cnt, dtype=i64)
        bst = np.cumsum(bcnt) - bcnt
        om = np.fromiter(chain.from_iterable(o_match), dtype=i64, count=5 * len(o_match)).reshape(-1, 5)
        c_opt = om[:, 0]
        os1 = om[:, 2]
        oe1 = os1 + om[:, 3]
        om1 = ((1 << om[:, 3]) - 1) << os1
        om2 = ((1 << om[:, 1]) - 1) << c_opt
        og = -_gains(om) * mu_job[np.repeat(np.array(b_at, dtype=i64) % n_jobs, bcnt)]
        od = np.abs(c_opt - os1)
    state = state.reshape(n_steps, n_jobs)
    cell = cell.reshape(n_steps, n_jobs)
    cu_job = np.array([b[6] for b in batch], dtype=i64)
    n2_job = np.array([b[0] for b in batch], dtype=i64)
    # number of pairs still searching at each position (pairs are sorted by decreasing length)
    n_active = np.searchsorted(-n2_job, -np.arange(n_steps), side="left").tolist()

    # the paths: one per pair to start with
    pr = np.arange(n_jobs, dtype=i64)
    key = np.zeros(n_jobs, dtype=i64)
    last = np.full(n_jobs, -1, dtype=i64)
    u1 = np.array([b[4] for b in batch], dtype=i64)
    u2 = np.array([b[5] for b in batch], dtype=i64)
    node = np.full(n_jobs, -1, dtype=i64)
    node_parent, node_opt = [], []
    n_nodes = 0
    done = []  # path arrays of pairs whose search ended
    dirty = False
    for c in range(n_steps):
        nact = n_active[c]
        if nact < n_jobs and pr.size and pr[-1] >= nact:
            cut = int(np.searchsorted(pr, nact))
            done.append((pr[cut:], key[cut:], last[cut:], u1[cut:], u2[cut:], node[cut:]))
            pr, key, last, u1, u2, node = pr[:cut], key[:cut], last[:cut], u1[:cut], u2[:cut], node[:cut]
        if dirty:
            pr, key, last, u1, u2, node = _sort_and_cut(pr, key, last, u1, u2, node, nact)
            dirty = False
        st = state[c][pr]
        # fixed match: every path takes it
        sel = np.flatnonzero(st == 1)
        if sel.size:
            p, lst = pr[sel], last[sel]
            f = cell[c][p]
            key[sel] += fd[f] + cu_job[p] * ((lst != -1) & (lst != fs1[f]))
            last[sel] = fe1[f]
            dirty = True
        # no candidate: close the chunk unless inside one of the path's multi-word matches
        sel = np.flatnonzero((st == 2) & (last != -1))
        if sel.size:
            sel = sel[((u2[sel] >> c) & 1) == 0]
            key[sel] += cu_job[pr[sel]]
            last[sel] = -1
            dirty = True
        # branching, for the paths not inside one of their multi-word matches
        gi = np.flatnonzero(st == 3)
        if gi.size:
            gi = gi[((u2[gi] >> c) & 1) == 0]
        if not gi.size:
            continue
        gp = pr[gi]
        g_key, g_last, g_u1, g_u2 = key[gi], last[gi], u1[gi], u2[gi]
        bc = cell[c][gp]
        ncand = bcnt[bc]
        rep = np.repeat(np.arange(gi.size), ncand)
        oi = np.arange(rep.size) - np.repeat(np.cumsum(ncand) - ncand - bst[bc], ncand)
        valid = ((g_u1[rep] & om1[oi]) == 0) & ((g_u2[rep] & om2[oi]) == 0)
        vrep, voi = rep[valid], oi[valid]
        n_new = vrep.size
        nvalid = np.bincount(vrep, minlength=gi.size)
        dist = od[voi]
        excl = np.cumsum(dist) - dist  # distances of earlier valid candidates, across parents
        tot = np.zeros(gi.size + 1, dtype=i64)
        tot[1:] = np.cumsum(nvalid)
        vfirst = tot[:-1]
        if n_new:
            base = np.append(excl, excl[-1] + dist[-1])  # exclusive sums, one past the end
            total_dist = base[vfirst + nvalid] - base[vfirst]
            before = excl - base[vfirst][vrep]
            c_last = g_last[vrep]
            c_key = (g_key[vrep] + before + og[voi]
                     + cu_job[gp[vrep]] * ((c_last != -1) & (os1[voi] != c_last)))
            node_parent.append(node[gi][vrep])
            node_opt.append(voi)
            c_node = np.arange(n_nodes, n_nodes + n_new)
            n_nodes += n_new
        else:
            total_dist = 0
        # the parent itself: all its valid candidates' distances, chunk closed
        key[gi] = g_key + total_dist + cu_job[gp] * (g_last != -1)
        last[gi] = -1
        if not n_new:
            dirty = True
            continue
        # children go just before their parent; then each pair's paths are stably sorted by key
        # and cut to the beam (what the next position starts with)
        n_old = pr.size
        ins = np.zeros(n_old, dtype=i64)
        ins[gi] = nvalid
        pos_old = np.arange(n_old) + np.cumsum(ins)
        pos_new = pos_old[gi][vrep] - nvalid[vrep] + (np.arange(n_new) - vfirst[vrep])
        size = n_old + n_new
        c_pr = gp[vrep]
        comp = np.empty(size, dtype=i64)
        comp[pos_old] = pr * (2 * _KEY_OFFSET) + (key + _KEY_OFFSET)
        comp[pos_new] = c_pr * (2 * _KEY_OFFSET) + (c_key + _KEY_OFFSET)
        src = np.empty(size, dtype=i64)
        src[pos_old] = np.arange(n_old)
        src[pos_new] = np.arange(n_old, size)
        order = np.argsort(comp, kind="stable")
        pr = comp[order] // (2 * _KEY_OFFSET)
        keep = np.arange(size) - np.searchsorted(pr, np.arange(nact))[pr] < BEAM_SIZE
        src = src[order[keep]]
        pr = pr[keep]
        key = np.concatenate((key, c_key))[src]
        last = np.concatenate((last, oe1[voi]))[src]
        u1 = np.concatenate((u1, g_u1[vrep] | om1[voi]))[src]
        u2 = np.concatenate((u2, g_u2[vrep] | om2[voi]))[src]
        node = np.concatenate((node, c_node))[src]
        dirty = False
    parts = [(pr, key, last, node)] + [(d[0], d[1], d[2], d[5]) for d in reversed(done)]
    pr, key, last, node = (np.concatenate(x) for x in zip(*parts))
    # the final beam of each pair, its last chunk closed; the first path with the smallest key
    # wins (what a stable sort and taking the first gives)
    order = np.argsort(pr * (2 * _KEY_OFFSET) + (key + _KEY_OFFSET), kind="stable")
    pr = pr[order]
    starts = np.searchsorted(pr, np.arange(n_jobs))
    keep = np.arange(pr.size) - starts[pr] < BEAM_SIZE
    sel = order[keep]
    pr = pr[keep]
    key = key[sel] + cu_job[pr] * (last[sel] != -1)
    starts = np.searchsorted(pr, np.arange(n_jobs))
    at = np.flatnonzero(key == np.minimum.reduceat(key, starts)[pr])
    cur = node[sel][at[np.searchsorted(pr[at], np.arange(n_jobs))]]
    # walk the chosen matches back, all pairs at once
    out: list[dict] = [{} for _ in range(n_jobs)]
    if not node_parent:
        return out
    parent = np.concatenate(node_parent)
    opt = np.concatenate(node_opt)
    who, what = [], []
    job = np.arange(n_jobs)
    while True:
        alive = cur != -1
        cur, job = cur[alive], job[alive]
        if not cur.size:
            break
        who.append(job)
        what.append(opt[cur])
        cur = parent[cur]
    for q, o in zip(np.concatenate(who).tolist(), np.concatenate(what).tolist()):
        mm = o_match[o]
        out[q][mm[0]] = mm
    return out


def _gains(m: np.ndarray) -> np.ndarray:
    """:func:`.meteor_align._gain` of the rows of a match array."""
    return np.where(m[:, 4] == 0, m[:, 1] + m[:, 3], (m[:, 1] >> 1) + (m[:, 3] >> 1))


def _sort_and_cut(pr, key, last, u1, u2, node, n_groups):
    """Stable sort of each pair's paths by key, then the first BEAM_SIZE of each pair."""
    order = np.argsort(pr * (2 * _KEY_OFFSET) + (key + _KEY_OFFSET), kind="stable")
    pr = pr[order]
    starts = np.searchsorted(pr, np.arange(n_groups))
    rank = np.arange(pr.size) - starts[pr]
    sel = order[rank < BEAM_SIZE]
    return pr[rank < BEAM_SIZE], key[sel], last[sel], u1[sel], u2[sel], node[sel]
