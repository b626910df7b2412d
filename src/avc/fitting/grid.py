"""The NNLS and simplex paths of Section F's grid, compiled: one factor update per step.

Section F fits, for every permutation of the agents and every fold, the first K agents for
K = 1, ..., n: a *path* of nested least-squares problems. The optimum for K agents is the one
for K - 1 with a zero appended, unless the new agent's KKT multiplier is negative; then a few
Lawson–Hanson steps restore optimality, each changing the support by one agent, so the Cholesky
factor ``L`` of the support's Gram block (``G_SS = L L'``) is *updated*, not recomputed: a
joining agent costs one forward substitution (its new row, O(s^2) for a support of size s), a
leaving one a row deletion and Givens rotations (O(s^2)). The forward halves ``L^-1 b_S`` and
``L^-1 1`` are carried along (a new entry, or the same rotations), so the sub-problem on the
support (with ``sum w = 1`` for the simplex, through its multiplier) costs one backward
substitution (O(s^2 / 2)), read along the rows of ``L``.

The KKT check costs one row of ``G`` per agent off the support (O(K s)), and only after an agent
joined; when the new agent's multiplier is non-negative the step costs one row. The errors at a
recorded K cost ``w'Hw`` and ``w'Gw`` over one triangle of the support (O(s^2)). On a dense
path (s close to K) a step costs about 2 s^2 multiply-adds: a quarter joining the factor, a
quarter the backward substitution, half the two errors. All of it runs in one compiled function
over every path (:func:`grid_paths`); numba compiles it (``cache=True``: a fresh checkout
compiles for a few seconds, later processes load the cache). Every step is capped (``max_steps``
agents joining, by default 3 K + 30, as :func:`avc.fitting.fits.active_set_qp`); a step that
would need more raises ``RuntimeError`` instead of returning weights that are not optimal.

The simplex paths factorise ``G + rho 11'`` (rho: the mean diagonal entry of ``G``): on
``sum w = 1`` the objective shifts by the constant rho, the minimiser and the agents' KKT
multipliers are unchanged, and the block stays positive definite when agents are affinely
dependent (with ``intercept=True``, an agent that is a scaled and shifted copy of another, which
is not redundant on the simplex).

The tolerances are those of :func:`avc.fitting.fits.active_set_qp` (weights <= 1e-10 leave the
support; KKT to 1e-10 times the size of the leading block of ``G``), so the paths agree with
:func:`reference_curves.alignment_curve_reference` to rounding (1e-14 on the committed panels).
An agent numerically in the span of the support (Schur complement below 1e-13 of its diagonal
entry: duplicates, or near-duplicates below what a Gram matrix resolves) stays at weight zero for
that step; in exact arithmetic nothing is lost, and with near-duplicates the objective can be
above the best by rounding-level amounts (the tests allow 1e-7 relative there, as for
:func:`avc.fitting.fits.fit_nnls` against scipy).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a requirement; this keeps the maths usable without it
    warnings.warn("numba is missing: avc.fitting.grid runs slowly, as Python", RuntimeWarning, stacklevel=2)

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda function: function


__all__ = ["grid_paths"]

SPARSITY_THRESHOLD = 1e-6
_TOL = 1e-10
_DEPENDENT = 1e-13


@njit(cache=True)
def _back_solve(L, s, rhs, out):
    """Solve ``L' x = rhs[:s]`` into ``out[:s]``, reading ``L`` by rows (contiguous in memory)."""
    for i in range(s):
        out[i] = rhs[i]
    for i in range(s - 1, -1, -1):
        x = out[i] / L[i, i]
        out[i] = x
        for k in range(i):
            out[k] -= L[i, k] * x


@njit(cache=True)
def _subproblem(L, s, fy, ft, work, z, simplex):
    """Minimiser ``z`` of ``0.5 z'G_SS z - b_S'z`` (with ``sum z = 1`` if simplex); returns nu.

    ``fy = L^-1 b_S`` and ``ft = L^-1 1`` are kept up to date by the factor updates, so the
    sub-problem costs one backward substitution: ``1'G^-1 b = ft'fy`` and ``1'G^-1 1 = ft'ft``.
    """
    if not simplex:
        _back_solve(L, s, fy, z)
        return 0.0
    tt = ty = 0.0
    for i in range(s):
        tt += ft[i] * ft[i]
        ty += ft[i] * fy[i]
    nu = (ty - 1.0) / tt
    for i in range(s):
        work[i] = fy[i] - nu * ft[i]
    _back_solve(L, s, work, z)
    return nu


@njit(cache=True)
def _chol_append(Gp, bp, L, support, s, j, fy, ft):
    """Add agent ``j`` as the last row of the factor (and of ``fy``, ``ft``); False if it is
    numerically dependent on the support."""
    d = Gp[j, j]
    acc = d
    for i in range(s):
        x = Gp[support[i], j]
        for k in range(i):
            x -= L[i, k] * L[s, k]
        x /= L[i, i]
        L[s, i] = x
        acc -= x * x
    if not acc > _DEPENDENT * abs(d):
        for i in range(s):
            L[s, i] = 0.0
        return False
    pivot = math.sqrt(acc)
    L[s, s] = pivot
    for i in range(s):
        L[i, s] = 0.0
    support[s] = j
    acc_y, acc_t = bp[j], 1.0
    for i in range(s):
        acc_y -= L[s, i] * fy[i]
        acc_t -= L[s, i] * ft[i]
    fy[s] = acc_y / pivot
    ft[s] = acc_t / pivot
    return True


@njit(cache=True)
def _chol_delete(L, support, w_s, s, i, fy, ft):
    """Remove position ``i`` of the support from the factor: row ``i`` goes, Givens rotations of
    column pairs restore the triangle, and the same rotations of ``fy`` and ``ft`` keep
    ``L fy = b_S`` and ``L ft = 1``."""
    for r in range(i, s - 1):
        support[r] = support[r + 1]
        w_s[r] = w_s[r + 1]
        for c in range(s):
            L[r, c] = L[r + 1, c]
    for j in range(i, s - 1):
        a = L[j, j]
        c_ = L[j, j + 1]
        rr = math.hypot(a, c_)
        cos = a / rr
        sin = c_ / rr
        for r in range(j, s - 1):
            x = L[r, j]
            y = L[r, j + 1]
            L[r, j] = cos * x + sin * y
            L[r, j + 1] = -sin * x + cos * y
        for f in (fy, ft):
            x = f[j]
            y = f[j + 1]
            f[j] = cos * x + sin * y
            f[j + 1] = -sin * x + cos * y
    for c in range(s):
        L[s - 1, c] = 0.0
        L[c, s - 1] = 0.0
    fy[s - 1] = 0.0
    ft[s - 1] = 0.0


@njit(cache=True)
def _start_at(Gp, bp, L, support, w_s, j, fy, ft):
    """The simplex's one-agent start: weight 1 on agent ``j``; returns nu."""
    L[0, 0] = math.sqrt(Gp[j, j]) if Gp[j, j] > 0 else 1.0
    support[0] = j
    w_s[0] = 1.0
    fy[0] = bp[j] / L[0, 0]
    ft[0] = 1.0 / L[0, 0]
    return bp[j] - Gp[j, j]


@njit(cache=True)
def _optimise(Gp, bp, K, L, support, s, w_s, nu, simplex, tol_kkt, first, scratch, max_steps):
    """Lawson–Hanson from the feasible point ``w_s`` on ``support[:s]``, over agents ``0..K-1``.

    ``first`` is the agent to try before any full KKT scan (the new agent of the step). Returns
    ``(s, nu)``; ``support``, ``w_s`` and ``L`` are updated in place. At most ``max_steps``
    agents join (the inner loop only drops); ``s = -1`` if KKT still fails then.
    """
    fy, ft, work, z = scratch[0], scratch[1], scratch[2], scratch[4]
    excluded, mark = scratch[5], scratch[6]
    for j in range(K):
        excluded[j] = 0.0
    candidate = first
    for step in range(max_steps + 1):
        if candidate < 0:  # full KKT scan over the agents off the support
            best = 0.0
            for i in range(s):
                mark[support[i]] = 1.0
            for j in range(K):
                if mark[j] != 0.0 or excluded[j] != 0.0:
                    continue
                m = nu - bp[j]
                for i in range(s):
                    m += Gp[j, support[i]] * w_s[i]
                if m < best:
                    best = m
                    candidate = j
            for i in range(s):
                mark[support[i]] = 0.0
            if candidate < 0 or best >= -tol_kkt:
                return s, nu
        else:
            m = nu - bp[candidate]
            for i in range(s):
                m += Gp[candidate, support[i]] * w_s[i]
            if m >= -tol_kkt:  # (only ``first`` is tried this way)
                return s, nu  # the previous optimum stays optimal: it cost one row of G
        if step == max_steps:
            return -1, nu  # the KKT conditions fail and no agent may join any more
        j = candidate
        candidate = -1
        if not _chol_append(Gp, bp, L, support, s, j, fy, ft):
            excluded[j] = 1.0
            continue
        w_s[s] = 0.0
        s += 1
        # inner loop: solve on the support, step back to feasibility and drop blocking agents
        while s > 0:
            nu_new = _subproblem(L, s, fy, ft, work, z, simplex)
            alpha = 1.0
            blocked = -1
            for i in range(s):
                if z[i] <= _TOL:
                    step = w_s[i] / max(w_s[i] - z[i], 1e-300)
                    if step < alpha or blocked < 0:
                        alpha = min(max(step, 0.0), 1.0)
                        blocked = i
            if blocked < 0:
                for i in range(s):
                    w_s[i] = z[i]
                nu = nu_new
                break
            for i in range(s):
                w_s[i] = max(w_s[i] + alpha * (z[i] - w_s[i]), 0.0)
            w_s[blocked] = 0.0
            i = s - 1
            while i >= 0:  # drop every weight at zero, last position first
                if w_s[i] <= _TOL:
                    _chol_delete(L, support, w_s, s, i, fy, ft)
                    s -= 1
                i -= 1
        if s == 0:
            nu = 0.0
            if simplex:  # numerical corner (cannot happen in exact arithmetic): restart from agent j alone
                nu = _start_at(Gp, bp, L, support, w_s, j, fy, ft)
                s = 1
    return -1, nu


@njit(cache=True)
def grid_paths(
    G_all,
    b_all,
    H_all,
    c_all,
    yy_tr,
    yy_te,
    n_tr,
    n_te,
    gram_of_path,
    perms,
    perm_of_path,
    ks,
    simplex,
    weights_out,
    max_steps=0,
):
    """Every path of the grid: held-out MSE, training MSE and support size at each K in ``ks``.

    ``G_all[g]``, ``b_all[g]`` are the training Gram matrix ``X'X`` and ``X'y`` of fold set
    ``g`` (``H_all``, ``c_all`` on its test fold; ``yy_*`` the target's sums of squares and
    ``n_*`` the item counts). Path ``p`` fits the agents in the order ``perms[perm_of_path[p]]``
    on fold set ``gram_of_path[p]``. ``ks`` must be sorted. ``weights_out`` is either of shape
    ``(0, 0, 0)`` or ``(n_paths, len(ks), n_agents)``; in the latter case it receives the weights
    (in the permuted order) at each K. Returns three ``(n_paths, len(ks))`` arrays.

    A step may add at most ``max_steps`` agents (0: ``3 K + 30``); one that needs more raises.
    """
    n_paths = len(gram_of_path)
    n = G_all.shape[1]
    n_k = len(ks)
    mse = np.zeros((n_paths, n_k))
    train = np.zeros((n_paths, n_k))
    nonzero = np.zeros((n_paths, n_k))
    record = weights_out.shape[0] > 0
    Gp = np.empty((n, n))
    Hp = np.empty((n, n))
    Gt = Gp if not simplex else np.empty((n, n))
    bp = np.empty(n)
    cp = np.empty(n)
    L = np.zeros((n + 1, n + 1))
    support = np.zeros(n + 1, dtype=np.int64)
    w_s = np.zeros(n + 1)
    scratch = np.zeros((7, n + 1))
    fy, ft = scratch[0], scratch[1]
    for p in range(n_paths):
        g = gram_of_path[p]
        perm = perms[perm_of_path[p]]
        for i in range(n):
            bp[i] = b_all[g, perm[i]]
            cp[i] = c_all[g, perm[i]]
            for j in range(n):
                Gp[i, j] = G_all[g, perm[i], perm[j]]
                Hp[i, j] = H_all[g, perm[i], perm[j]]
        L[:, :] = 0.0
        scratch[0, :] = 0.0
        scratch[1, :] = 0.0
        s = 0
        nu = 0.0
        scale = 1.0
        if simplex:
            # On the simplex, w'(G + rho 11')w = w'Gw + rho: the same minimiser, a multiplier
            # shifted by rho, and a block that stays positive definite where agents are affinely
            # (not convexly) dependent -- with an offset, a column that is a scaled copy of another.
            rho = 0.0
            for i in range(n):
                rho += Gp[i, i]
            rho = max(rho / n, 1e-300)
            for i in range(n):
                for j in range(n):
                    Gt[i, j] = Gp[i, j] + rho
            nu = _start_at(Gt, bp, L, support, w_s, 0, fy, ft)  # one agent: weight 1
            s = 1
        k_next = 0
        for K in range(1, ks[n_k - 1] + 1):
            new = K - 1
            for i in range(K):
                scale = max(scale, abs(Gp[new, i]))
            scale = max(scale, abs(bp[new]))
            if not (simplex and K == 1):
                steps = max_steps if max_steps > 0 else 3 * K + 30
                s, nu = _optimise(
                    Gt, bp, K, L, support, s, w_s, nu, simplex, _TOL * scale, new, scratch, steps
                )
                if s < 0:
                    raise RuntimeError(
                        "avc.fitting.grid: the active-set method did not reach the KKT conditions within "
                        "its iteration cap; the weights would not be optimal (report this panel)"
                    )
            if simplex:
                total = 0.0
                for i in range(s):
                    total += w_s[i]
                for i in range(s):
                    w_s[i] /= total
            if K == ks[k_next]:
                # errors w'Hw - 2c'w + y'y on the test and training rows; w'Hw over the triangle
                quad_te = quad_tr = lin_te = lin_tr = count = 0.0
                for i in range(s):
                    a = support[i]
                    wi = w_s[i]
                    lin_te += cp[a] * wi
                    lin_tr += bp[a] * wi
                    if wi > SPARSITY_THRESHOLD:
                        count += 1.0
                    row_te = 0.0
                    row_tr = 0.0
                    for j in range(i):
                        c = support[j]
                        row_te += Hp[a, c] * w_s[j]
                        row_tr += Gp[a, c] * w_s[j]
                    quad_te += wi * (2.0 * row_te + Hp[a, a] * wi)
                    quad_tr += wi * (2.0 * row_tr + Gp[a, a] * wi)
                    if record:
                        weights_out[p, k_next, a] = wi
                mse[p, k_next] = (quad_te - 2.0 * lin_te + yy_te[g]) / n_te[g]
                train[p, k_next] = (quad_tr - 2.0 * lin_tr + yy_tr[g]) / n_tr[g]
                nonzero[p, k_next] = count
                k_next += 1
    return mse, train, nonzero


@njit(cache=True)
def average_paths(G_all, b_all, yy, count, gram_of_path, perms, perm_of_path):
    """Mean squared error of the simple average of the first K agents, every K, every path.

    With uniform weights ``1/K`` the error is ``(S_K / K^2 - 2 B_K / K + y'y) / count``, where
    ``S_K`` sums the leading K x K block of the permuted Gram matrix and ``B_K`` the first K
    entries of ``X'y``; both grow by one row per K. Returns ``(n_paths, n_agents)``.
    """
    n_paths = len(gram_of_path)
    n = G_all.shape[1]
    out = np.empty((n_paths, n))
    for p in range(n_paths):
        g = gram_of_path[p]
        perm = perms[perm_of_path[p]]
        block = 0.0
        lin = 0.0
        for k in range(n):
            a = perm[k]
            row = 0.0
            for j in range(k):
                row += G_all[g, a, perm[j]]
            block += 2.0 * row + G_all[g, a, a]
            lin += b_all[g, a]
            K = k + 1.0
            out[p, k] = (block / (K * K) - 2.0 * lin / K + yy[g]) / count[g]
    return out
