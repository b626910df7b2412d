"""The NNLS and simplex paths of Section F's grid, compiled: one factor update per step.

Section F fits, for every permutation of the agents and every cross-validation fold, the first
K agents for K = 1, 2, ..., n: a *path* of nested least-squares problems. On a path the optimum
for K agents is the optimum for K - 1 agents with a zero appended, unless the new agent's KKT
multiplier is negative; then a few Lawson–Hanson active-set steps restore optimality. Each of
those steps changes the active set (the support) by one agent, so the Cholesky factor ``L`` of
the Gram block of the support (``G_SS = L L'``) is *updated* rather than recomputed:

* an agent joins: one forward substitution gives its new row of ``L`` (O(s^2) for a support of
  size s);
* an agent leaves: its row is deleted and the factor is restored to triangular form by Givens
  rotations (O(s^2));
* the sub-problem on the support (unconstrained, or with ``sum w = 1`` for the simplex through
  its Lagrange multiplier) costs two triangular solves (O(s^2)).

The KKT check over the K agents costs one row of ``G`` per agent off the support (O(K s)), and
only after an agent joined; when the new agent's multiplier is non-negative the step costs one
row. All of it runs in one compiled function over every path (:func:`grid_paths`), so Python's
overhead is paid once per grid, not once per step. numba compiles it (``cache=True``: the
first call in a fresh checkout compiles for a few seconds, later processes load the cache).

The simplex paths factorise ``G + rho 11'`` (rho: the mean diagonal entry of ``G``) instead of
``G``: on ``sum w = 1`` the objective only shifts by the constant rho, the minimiser is the
same, the multiplier of the constraint shifts by rho (the KKT multipliers of the agents are
unchanged), and the block stays positive definite when agents are affinely dependent -- with
``intercept=True``, an agent that is a scaled and shifted copy of another -- which matters for
the simplex, where such an agent is not redundant.

The tolerances are those of :func:`avc.fitting.fits.active_set_qp` (weights <= 1e-10 leave the
support; KKT to 1e-10 times the size of the leading block of ``G``), so the paths agree with
:func:`reference_curves.alignment_curve_reference` to rounding (1e-14 on the committed panels). An
agent numerically in the span of the support (its Schur complement below 1e-13 of its own
diagonal entry: duplicate agents, or near-duplicates below what a Gram matrix resolves) cannot
be factorised; it stays at weight zero for that step. In exact arithmetic its KKT multiplier
is then zero (NNLS) or its direction is already available (simplex), so nothing is lost; with
near-duplicates the objective can be above the best by rounding-level amounts (the tests allow
1e-7 relative there, as they do for :func:`avc.fitting.fits.fit_nnls` against scipy).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a requirement; this keeps the maths usable without it
    warnings.warn(
        "numba is not installed: avc.fitting.grid runs as plain Python (correct, very slow). "
        "Install the requirements (pip install -r requirements.txt).",
        RuntimeWarning,
        stacklevel=2,
    )

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda function: function


__all__ = ["grid_paths"]

SPARSITY_THRESHOLD = 1e-6
_TOL = 1e-10
_DEPENDENT = 1e-13


@njit(cache=True)
def _solve_support(L, s, rhs, out):
    """Solve ``L L' x = rhs[:s]`` into ``out[:s]`` (forward then backward substitution)."""
    for i in range(s):
        acc = rhs[i]
        for j in range(i):
            acc -= L[i, j] * out[j]
        out[i] = acc / L[i, i]
    for i in range(s - 1, -1, -1):
        acc = out[i]
        for j in range(i + 1, s):
            acc -= L[j, i] * out[j]
        out[i] = acc / L[i, i]


@njit(cache=True)
def _subproblem(L, s, b_s, ones, u, v, z, simplex):
    """Minimiser ``z`` of ``0.5 z'G_SS z - b_S'z`` (with ``sum z = 1`` if simplex); returns nu."""
    _solve_support(L, s, b_s, u)
    if not simplex:
        for i in range(s):
            z[i] = u[i]
        return 0.0
    _solve_support(L, s, ones, v)
    su = 0.0
    sv = 0.0
    for i in range(s):
        su += u[i]
        sv += v[i]
    nu = (su - 1.0) / sv
    for i in range(s):
        z[i] = u[i] - nu * v[i]
    return nu


@njit(cache=True)
def _chol_append(Gp, L, support, s, j):
    """Add agent ``j`` as the last row of the factor; False if it is numerically dependent."""
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
    L[s, s] = math.sqrt(acc)
    for i in range(s):
        L[i, s] = 0.0
    support[s] = j
    return True


@njit(cache=True)
def _chol_delete(L, support, w_s, s, i):
    """Remove position ``i`` of the support from the factor (row shift, then Givens rotations)."""
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
    for c in range(s):
        L[s - 1, c] = 0.0
        L[c, s - 1] = 0.0


@njit(cache=True)
def _optimise(Gp, bp, K, L, support, s, w_s, nu, simplex, tol_kkt, first, scratch):
    """Lawson–Hanson from the feasible point ``w_s`` on ``support[:s]``, over agents ``0..K-1``.

    ``first`` is the agent to try before any full KKT scan (the new agent of the step). Returns
    ``(s, nu)``; ``support``, ``w_s`` and ``L`` are updated in place.
    """
    b_s, ones, u, v, z = scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]
    excluded, mark = scratch[5], scratch[6]
    for j in range(K):
        excluded[j] = 0.0
    candidate = first
    for _ in range(3 * K + 30):
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
        j = candidate
        candidate = -1
        if not _chol_append(Gp, L, support, s, j):
            excluded[j] = 1.0
            continue
        w_s[s] = 0.0
        s += 1
        # inner loop: solve on the support, step back to feasibility and drop blocking agents
        while s > 0:
            for i in range(s):
                b_s[i] = bp[support[i]]
            nu_new = _subproblem(L, s, b_s, ones, u, v, z, simplex)
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
                    _chol_delete(L, support, w_s, s, i)
                    s -= 1
                i -= 1
        if s == 0:
            nu = 0.0
            if simplex:  # numerical corner (cannot happen in exact arithmetic): restart from agent j alone
                L[0, 0] = math.sqrt(Gp[j, j]) if Gp[j, j] > 0 else 1.0
                support[0] = j
                w_s[0] = 1.0
                s = 1
                nu = bp[j] - Gp[j, j]
    return s, nu


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
):
    """Every path of the grid: held-out MSE, training MSE and support size at each K in ``ks``.

    ``G_all[g]``, ``b_all[g]`` are the training Gram matrix ``X'X`` and ``X'y`` of fold set
    ``g`` (``H_all``, ``c_all`` on its test fold; ``yy_*`` the target's sums of squares and
    ``n_*`` the item counts). Path ``p`` fits the agents in the order ``perms[perm_of_path[p]]``
    on fold set ``gram_of_path[p]``. ``ks`` must be sorted. ``weights_out`` is either of shape
    ``(0, 0, 0)`` or ``(n_paths, len(ks), n_agents)``; in the latter case it receives the weights
    (in the permuted order) at each K. Returns three ``(n_paths, len(ks))`` arrays.
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
    for i in range(n + 1):
        scratch[1, i] = 1.0
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
            L[0, 0] = math.sqrt(Gt[0, 0])  # one agent: weight 1
            support[0] = 0
            w_s[0] = 1.0
            s = 1
            nu = bp[0] - Gt[0, 0]
        k_next = 0
        for K in range(1, ks[n_k - 1] + 1):
            new = K - 1
            for i in range(K):
                scale = max(scale, abs(Gp[new, i]))
            scale = max(scale, abs(bp[new]))
            if not (simplex and K == 1):
                s, nu = _optimise(Gt, bp, K, L, support, s, w_s, nu, simplex, _TOL * scale, new, scratch)
            if simplex:
                total = 0.0
                for i in range(s):
                    total += w_s[i]
                for i in range(s):
                    w_s[i] /= total
            if K == ks[k_next]:
                quad_te = 0.0
                quad_tr = 0.0
                lin_te = 0.0
                lin_tr = 0.0
                count = 0.0
                for i in range(s):
                    a = support[i]
                    lin_te += cp[a] * w_s[i]
                    lin_tr += bp[a] * w_s[i]
                    if w_s[i] > SPARSITY_THRESHOLD:
                        count += 1.0
                    for j in range(s):
                        quad_te += w_s[i] * Hp[a, support[j]] * w_s[j]
                        quad_tr += w_s[i] * Gp[a, support[j]] * w_s[j]
                    if record:
                        weights_out[p, k_next, a] = w_s[i]
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
