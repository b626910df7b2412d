"""Mutation testing of avc's core modules against their own unit tests (issue 25, point 6).

    nice -n 10 .venv/bin/python scripts/mutation.py                 # every core module
    nice -n 10 .venv/bin/python scripts/mutation.py fits parsing    # some of them
    .venv/bin/python scripts/mutation.py fits --list                # the mutants, not run

For each module, small changes are made to its syntax tree, one at a time (a *mutant*):

- a comparison swapped at its boundary (``<`` <-> ``<=``, ``>`` <-> ``>=``) or flipped to its
  negation (``<`` -> ``>=``, ``==`` <-> ``!=``, ``is`` <-> ``is not``, ``in`` <-> ``not in``);
- an arithmetic operator swapped (``+`` <-> ``-``, ``*`` <-> ``/``, ``//`` -> ``/``, ``**`` -> ``*``,
  ``%`` -> ``//``), in expressions and augmented assignments;
- a numeric constant changed (0 -> 1, 1 -> 0 and 2, any other c -> c + 1 and c - 1);
- ``and`` <-> ``or``; a ``not`` dropped; a returned value replaced by ``None``.

Docstrings, f-strings, ``raise`` statements (error messages), annotations, decorators and
``__all__`` are left alone. Each mutant is written into a PRIVATE COPY of the repository (never
into the working tree, where other processes run the code) and the module's unit tests run
against it: the mutant is *killed* when a test fails, errors or runs past the time limit, and
*survives* when every test passes. A table per module gives the counts and where the survivors
are. Equivalent mutants (no test can tell them from the original) are listed in ``EQUIVALENT``
below, each with the reason (and two rules: a reshape's ``-1`` turned into ``-2``, and the
stand-in decorator grid.py defines only without numba), and left out of the counts.

How it runs: the copy (``--copy``, default ``/tmp/mutation/repo``) is made afresh from the
working tree, as ``rsync -a --delete`` would, leaving out ``.venv``, ``_build``, ``.git``,
``runs`` and caches; the tests run with the copy's ``src`` first on ``sys.path``, and each run
checks that the ``avc`` and the module it imported are the copy's. To keep each mutant cheap,
numpy, scipy, pandas, numba and pytest are imported once here and every test run is a forked
child (``pytest.main`` in a fresh process image, so nothing of ``avc`` is shared between
mutants); the whole unparsed module is written for each mutant (the unmutated unparse is the
baseline, which must pass). One test process at a time, under ``nice``. numba-compiled modules recompile for each mutant (in a fresh
cache folder), so fewer of them are sampled (40 by default for grid.py, 200 for the others;
``--max-mutants`` overrides both; the sample is seeded by ``--seed`` and the module's name).
The unit tests run with ``-x``: a mutant is killed at its first failing test.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import os
import random
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# module: (file, unit tests, default sample size)
MODULES = {
    "alignment": ("src/avc/theory/alignment.py", ["tests/test_alignment.py"], 200),
    "fits": ("src/avc/fitting/fits.py", ["tests/test_fitting.py", "tests/test_solver_caps.py"], 200),
    "curves": ("src/avc/fitting/curves.py", ["tests/test_fitting.py"], 200),
    "grid": ("src/avc/fitting/grid.py", ["tests/test_fitting.py", "tests/test_grid_cap.py"], 40),
    "persuasion": ("src/avc/theory/persuasion.py", ["tests/test_persuasion.py"], 200),
    "concavification": ("src/avc/theory/concavification.py", ["tests/test_persuasion.py"], 200),
    "games": ("src/avc/theory/games.py", ["tests/test_games.py", "tests/test_solver_caps.py"], 200),
    "quantal": ("src/avc/theory/quantal.py", ["tests/test_quantal.py"], 200),
    "cache": ("src/avc/llm/cache.py", ["tests/test_cache_unit.py"], 200),
    "parsing": ("src/avc/llm/parsing.py", ["tests/test_parsing.py"], 200),
}
NUMBA_MODULES = {"grid"}

# Equivalent mutants: (module, function, description) -> why no test can kill it. The
# description is the one the report prints (``original -> mutant``).
# and one rule, for every module: ``x.reshape(..., -1)`` -> ``x.reshape(..., -2)`` (see ``equivalence``)
RESHAPE = "numpy's reshape reads any negative size as 'infer this dimension', as it does -1"
EQUIVALENT: dict[tuple[str, str, str], str] = {
    ("alignment", "weighted_alignment", "cost[-1] = 1.0 -> cost[-1] = 2.0"): (
        "minimising 2 eps has the same minimisers as minimising eps, and eps is recomputed from the weights"
    ),
    (
        "parsing",
        "yes_probability",
        "mass[token] += float(np.exp(_field(alt, 'logprob'))) -> mass[token] -= float(np.exp(_field(alt, 'logprob')))",
    ): "both masses are negated, so their ratio, and whether their sum is zero, are unchanged",
    ("fits", "_subsolve", "rhs = np.empty((n, 2)) -> rhs = np.empty((n, 3))"): (
        "a third right-hand side is solved along with the two, and never read"
    ),
    (
        "fits",
        "_subsolve",
        "abs(denominator) > 1e-12 * max(1.0, abs(sol[:, 0].sum())) -> "
        "abs(denominator) >= 1e-12 * max(1.0, abs(sol[:, 0].sum()))",
    ): "differs only when the denominator equals the guard exactly, and both branches solve the same equations",
    ("fits", "_subsolve", "kkt = np.zeros((n + 1, n + 1)) -> kkt = np.zeros((n + 1, n + 2))"): (
        "a zero column added to the bordered system: its minimum-norm least-squares solution puts 0 there "
        "and is otherwise the same"
    ),
    (
        "fits",
        "active_set_qp",
        "w[int(np.argmin(0.5 * np.diag(G) - b))] = 1.0 -> w[int(np.argmin(0.5 * np.diag(G) - b))] = 2.0",
    ): "the start is replaced at once by the sub-solve on its one free variable, 1 on the simplex",
    ("fits", "active_set_qp", "entering, w_before = (-1, w) -> entering, w_before = (-2, w)"): (
        "both mean that no variable has entered yet: the test is entering >= 0"
    ),
    (
        "fits",
        "active_set_qp",
        "steps = w_free[blocked] / np.maximum(w_free[blocked] - z_free[blocked], 1e-300) -> "
        "steps = w_free[blocked] / np.maximum(w_free[blocked] - z_free[blocked], -1.0)",
    ): (
        "w - z > 0 for every free weight above tol, and a weight entering at 0 has step 0 either way; only "
        "a warm start with a weight in (0, 1e-10] takes another step, to the same optimum"
    ),
    (
        "fits",
        "active_set_qp",
        "nu = -float(np.mean(grad[active])) if simplex and active.any() else 0.0 -> "
        "nu = -float(np.mean(grad[active])) if simplex or active.any() else 0.0",
    ): (
        "without the simplex the gradient on the free set is zero at each sub-problem's solution: its mean "
        "is rounding, far below the KKT tolerance"
    ),
    ("fits", "add_agent", "multipliers[idx] = 0.0 -> multipliers[idx] = 1.0"): (
        "the support's entries only need to be non-negative for the check min >= -tol * scale"
    ),
    ("persuasion", "grid_schemes", "resolution + 1 -> resolution + 2"): (
        "a part equal to resolution + 1 cannot be in a composition of resolution: the same rows are kept"
    ),
    (
        "persuasion",
        "optimal_scheme",
        "row[:, a] = p * (u[alt] - u[a] + (margin if alt < a else 0.0)) -> "
        "row[:, a] = p * (u[alt] - u[a] + (margin if alt <= a else 0.0))",
    ): "the loop skips alt == a, so alt < a and alt <= a agree on every row built",
    ("persuasion", "optimal_scheme", "(0, 1) -> (0, 2)"): (
        "entries are non-negative and every row sums to one, so the upper bound 1 (or 2) never binds"
    ),
    (
        "persuasion",
        "optimal_scheme",
        "scheme = np.clip(result.x.reshape(n_states, n_actions), 0, 1) + 0.0 -> "
        "scheme = np.clip(result.x.reshape(n_states, n_actions), 0, 2) + 0.0",
    ): "no entry exceeds 1 but by the solver's tolerance (rows sum to one), and rows are renormalised",
}
ROW_FACTOR = "a positive factor on a row of the scheme, which the final division by the row's sum removes"
ONE_POSTERIOR = (
    "with one posterior the mean constraint pins the polish to the prior, and with one state the grid has "
    "one point: the polish cannot improve the value, and is kept only if it does"
)
SCHEME = "scheme = weights[None, :] * posteriors.T"
for before, after, reason in [
    (
        f"{SCHEME} / np.where(p > 0, p, 1.0)[:, None]",
        f"{SCHEME} * np.where(p > 0, p, 1.0)[:, None]",
        ROW_FACTOR,
    ),
    (
        f"{SCHEME} / np.where(p > 0, p, 1.0)[:, None]",
        f"{SCHEME} / np.where(p > 1, p, 1.0)[:, None]",
        ROW_FACTOR,
    ),
    (
        f"{SCHEME} / np.where(p > 0, p, 1.0)[:, None]",
        f"{SCHEME} / np.where(p > 0, p, 2.0)[:, None]",
        "the rows of states of prior zero are overwritten on the next line",
    ),
    ("scheme[p <= 0, 0] = 1.0", "scheme[p <= 0, 0] = 2.0", ROW_FACTOR),
]:
    EQUIVALENT["concavification", "_scheme_from_posteriors", f"{before} -> {after}"] = reason
for description in [
    "len(support) > 1 and n > 1 -> len(support) > 1 or n > 1",
    "len(support) > 1 -> len(support) >= 1",
    "len(support) > 1 -> len(support) > 0",
    "n > 1 -> n >= 1",
    "n > 1 -> n > 0",
]:
    EQUIVALENT["concavification", "quantal_concavification", description] = ONE_POSTERIOR
EQUIVALENT[
    "concavification",
    "quantal_concavification",
    "support = np.flatnonzero(result.x > 1e-12) -> support = np.flatnonzero(result.x >= 1e-12)",
] = "differs only for an LP weight of exactly 1e-12"
EQUIVALENT["concavification", "simplex_grid", "n_states == 1 -> n_states == 0"] = (
    "the general construction gives the same single point [1.0] for one state"
)
EQUIVALENT[
    "concavification",
    "quantal_concavification",
    "m *= (p / np.where(m.sum(axis=0) > 0, m.sum(axis=0), 1.0))[None, :] -> "
    "m *= (p / np.where(m.sum(axis=0) > 0, m.sum(axis=0), 2.0))[None, :]",
] = "the factor applies to a column of m that sums to zero, hence is zero: any factor leaves it zero"
OVERLAP = (
    "chunks that overlap by one candidate: every candidate is still scored, and the first of the best is "
    "kept (argmax within a chunk, a strict > across chunks)"
)
EQUIVALENT[
    "concavification",
    "_quantal_limited_signals",
    "range(0, len(candidates), 20000) -> range(0, len(candidates), 19999)",
] = OVERLAP
EQUIVALENT[
    "concavification",
    "_quantal_limited_signals",
    "chunk = candidates[start:start + 20000] -> chunk = candidates[start:start + 20001]",
] = OVERLAP
EQUIVALENT["concavification", "_quantal_limited_signals", "(0, 1) -> (0, 2)"] = (
    "entries are non-negative and every row is held to sum to one, so the upper bound 1 (or 2) never binds"
)
EQUIVALENT[
    "concavification",
    "quantal_scheme_values",
    "q = joint / np.where(mass > 0, mass, 1.0)[:, None, :] -> q = joint / np.where(mass > 0, mass, 2.0)[:, None, :]",
] = "where a signal's mass is zero its joint column is zero too: 0 / 1 and 0 / 2 are both 0"

COMPARE_SWAPS = {
    ast.Lt: (ast.LtE, ast.GtE),
    ast.LtE: (ast.Lt, ast.Gt),
    ast.Gt: (ast.GtE, ast.LtE),
    ast.GtE: (ast.Gt, ast.Lt),
    ast.Eq: (ast.NotEq,),
    ast.NotEq: (ast.Eq,),
    ast.Is: (ast.IsNot,),
    ast.IsNot: (ast.Is,),
    ast.In: (ast.NotIn,),
    ast.NotIn: (ast.In,),
}
ARITHMETIC_SWAPS = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult,
    ast.Mod: ast.FloorDiv,
}


@dataclass
class Mutant:
    index: int  # position in the module's full list (stable while the module's code is unchanged)
    site: int  # which node of the tree (the n-th mutable node in visiting order)
    choice: int  # which of the node's alternatives
    line: int
    function: str
    description: str
    status: str = ""  # killed, timeout, survived
    equivalent: str = ""  # why, for a mutant left out as equivalent
    seconds: float = 0.0


def short(node: ast.AST, limit: int = 160) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def mutable_nodes(tree: ast.AST) -> list[tuple[ast.AST, str, ast.AST | None]]:
    """Every node a mutation may touch, in a fixed order, with its function and parent."""
    found = []

    def visit(node, function, parent):
        if isinstance(node, (ast.JoinedStr, ast.Raise)):
            return
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # docstrings
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            function = f"{function}.{node.name}" if function else node.name
        found.append((node, function, parent))
        for field, value in ast.iter_fields(node):
            if field in ("annotation", "returns", "decorator_list", "type_comment"):
                continue
            children = value if isinstance(value, list) else [value]
            for child in children:
                if isinstance(child, ast.AST):
                    visit(child, function, node)

    visit(tree, "", None)
    return found


def alternatives(node: ast.AST) -> list:
    """One entry per mutation of ``node``: a function that edits (a copy of) the node in place,
    or ``"drop_not"`` (the ``not`` node is replaced by its operand in its parent)."""
    out = []
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in COMPARE_SWAPS.get(type(op), ()):

                def apply(n, i=i, new=new):
                    n.ops[i] = new()

                out.append(apply)
    elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in ARITHMETIC_SWAPS:

        def apply(n):
            n.op = ARITHMETIC_SWAPS[type(n.op)]()

        out.append(apply)
    elif isinstance(node, ast.BoolOp):

        def apply(n):
            n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()

        out.append(apply)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        out.append("drop_not")
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
        c = node.value
        for v in [1] if c == 0 else [0, 2] if c == 1 else [c + 1, c - 1]:
            new_value = type(c)(v)

            def apply(n, v=new_value):
                n.value = v

            out.append(apply)
    elif isinstance(node, ast.Return) and node.value is not None:
        if not (isinstance(node.value, ast.Constant) and node.value.value is None):

            def apply(n):
                n.value = ast.Constant(None)

            out.append(apply)
    return out


SIMPLE_STATEMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Return, ast.Expr)


def context_of(node: ast.AST, parents: dict) -> ast.AST:
    """The code shown in a mutant's description: its whole statement when that is a short
    simple one, else the expression (a constant with the expression around it)."""
    above = node
    while above is not None and not isinstance(above, ast.stmt):
        above = parents.get(id(above))
    if isinstance(above, SIMPLE_STATEMENTS) and len(ast.unparse(above)) <= 110:
        return above
    if not isinstance(node, ast.Constant):
        return node
    shown = node
    while isinstance(parents.get(id(shown)), ast.UnaryOp):
        shown = parents[id(shown)]
    parent = parents.get(id(shown))
    return parent if isinstance(parent, (ast.expr, ast.keyword)) else shown


def enumerate_mutants(source: str) -> tuple[ast.Module, list[Mutant]]:
    tree = ast.parse(source)
    nodes = mutable_nodes(tree)
    parents = {id(child): above for above in ast.walk(tree) for child in ast.iter_child_nodes(above)}
    mutants = []
    for site, (node, function, _) in enumerate(nodes):
        for choice in range(len(alternatives(node))):
            line = getattr(node, "lineno", 0)
            mutants.append(Mutant(len(mutants), site, choice, line, function or "<module>", ""))
            if reshape_infer(node, choice, parents):
                mutants[-1].equivalent = RESHAPE
    seen: dict[tuple[str, str], int] = {}
    for m in mutants:
        _, before, after = mutate(tree, m)
        m.description = f"{before} -> {after}"
        seen[m.function, m.description] = seen.get((m.function, m.description), 0) + 1
        if seen[m.function, m.description] > 1:  # the same change elsewhere in the function
            m.description += f" (occurrence {seen[m.function, m.description]})"
    return tree, mutants


def reshape_infer(node: ast.AST, choice: int, parents: dict) -> bool:
    """Whether this mutation turns the ``-1`` of a ``reshape`` call into ``-2``."""
    minus, call = parents.get(id(node)), parents.get(id(parents.get(id(node))))
    return (
        isinstance(node, ast.Constant)
        and node.value == 1
        and choice == 1  # 1 -> 2
        and isinstance(minus, ast.UnaryOp)
        and isinstance(minus.op, ast.USub)
        and isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "reshape"
        and minus in call.args
    )


EQUIVALENT.update(
    {
        (
            "curves",
            "one_blas_thread",
            "return _BLAS_CONTROLLER[0].limit(limits=1, user_api='blas') -> "
            "return _BLAS_CONTROLLER[0].limit(limits=0, user_api='blas')",
        ): "how many BLAS threads run changes the speed, not the numbers (to rounding)",
        (
            "curves",
            "one_blas_thread",
            "return _BLAS_CONTROLLER[0].limit(limits=1, user_api='blas') -> "
            "return _BLAS_CONTROLLER[0].limit(limits=2, user_api='blas')",
        ): "how many BLAS threads run changes the speed, not the numbers (to rounding)",
        ("curves", "one_blas_thread", "return contextlib.nullcontext() -> return None"): (
            "reached only when threadpoolctl is missing, and it is a requirement"
        ),
        ("curves", "_running_argmin", "range(1, values.shape[1]) -> range(0, values.shape[1])"): (
            "at k = 0 nothing is below itself, so the column keeps its 0"
        ),
        ("curves", "_baselines", "0 * ones -> 0 / ones"): "0 * 1 and 0 / 1 are both 0",
        (
            "curves",
            "_baselines",
            "rescaled = (result[1][0], result[1][1], (result[1][2] > SPARSITY_THRESHOLD).astype(float)) -> "
            "rescaled = (result[1][0], result[1][1], (result[1][2] >= SPARSITY_THRESHOLD).astype(float))",
        ): "differs only for a scale of exactly 1e-6",
        (
            "curves",
            "alignment_curve",
            "no_weights = np.zeros((0, 0, 0)) -> no_weights = np.zeros((0, 1, 0))",
        ): ("grid_paths records weights only when the first dimension is positive: both shapes record none"),
        (
            "curves",
            "alignment_curve",
            "no_weights = np.zeros((0, 0, 0)) -> no_weights = np.zeros((0, 0, 1))",
        ): ("grid_paths records weights only when the first dimension is positive: both shapes record none"),
    }
)

SQUARE_GRAMS = "the Gram matrices are square: G_all has shape (fold sets, n, n)"
POSITIVE_START = (
    "_start_at is only called on G + rho 11' with rho >= 1e-300 > 0 (the simplex start and its "
    "numerical corner), whose diagonal is positive: the fallback is never taken"
)

EQUIVALENT.update(
    {
        ("grid", "_chol_append", "L[s, i] = 0.0 -> L[s, i] = 1.0"): (
            "row s lies beyond the support: nothing reads it before the next agent to join overwrites it"
        ),
        ("grid", "_chol_delete", "s - 1 -> s - 0 (occurrence 3)"): (
            "the rotations then also turn the stale copy of the last row, which is cleared just after"
        ),
        ("grid", "_chol_delete", "fy[s - 1] = 0.0 -> fy[s - 0] = 0.0"): (
            "the stale entry lies beyond the support: nothing reads it before the next join overwrites it"
        ),
        ("grid", "_chol_delete", "L[s - 1, c] = 0.0 -> L[s - 0, c] = 0.0"): (
            "the stale row s - 1 lies beyond the new support; the next join writes every entry of it "
            "that is read (columns before its diagonal, in the order they are read) or clears it when "
            "the agent is dependent, and row s is beyond the support as well"
        ),
        ("grid", "_chol_delete", "ft[s - 1] = 0.0 -> ft[s + 1] = 0.0"): (
            "as fy: the stale entry s - 1 is overwritten by the next join before it is read; the zero "
            "lands beyond the support, or (s = n) on work[0], which the sub-problem writes before reading"
        ),
        ("grid", "_chol_delete", "L[c, s - 1] = 0.0 -> L[c, s - 1] = 1.0"): (
            "column s - 1 lies beyond the new support: later deletions rotate only columns inside it, "
            "and the next join clears that column above its diagonal and writes the diagonal"
        ),
        ("grid", "_optimise", "return (-1, nu) -> return (-2, nu)"): (
            "the only caller (grid_paths) reads a failure as 's < 0': any negative support size"
        ),
        ("grid", "_optimise", "excluded[j] = 1.0 -> excluded[j] = 2.0"): (
            "excluded is only compared with 0.0 ('excluded[j] != 0.0'): any non-zero value excludes"
        ),
        ("grid", "grid_paths", "scratch = np.zeros((7, n + 1)) -> scratch = np.zeros((7, n + 0))"): (
            "its rows are indexed by support positions (below s <= n) and by agents (below n) only"
        ),
        ("grid", "_chol_delete", "ft[s - 1] = 0.0 -> ft[s - 1] = 1.0"): (
            "as fy: the stale entry lies beyond the support, and the next join writes it before it is read"
        ),
        ("grid", "_optimise", "max_steps + 1 -> max_steps + 2"): (
            "the loop returns at step == max_steps, so a longer range is never reached"
        ),
        ("grid", "grid_paths", "L = np.zeros((n + 1, n + 1)) -> L = np.zeros((n + 2, n + 1))"): (
            "rows of the factor are indexed by support positions, at most n: a further row is never used"
        ),
        ("grid", "grid_paths", "L = np.zeros((n + 1, n + 1)) -> L = np.zeros((n + 1, n + 2))"): (
            "columns of the factor are indexed by support positions, at most n: a further column is never used"
        ),
        ("grid", "grid_paths", "scratch[0, :] = 0.0 -> scratch[0, :] = 1.0"): (
            "fy is read only inside the support, and each entry is written when its agent joins "
            "(_start_at, _chol_append) before it is read: the reset value is never seen"
        ),
        ("grid", "_optimise", "candidate = -1 -> candidate = -2"): (
            "candidate is only ever compared with 'candidate < 0': any negative value means no candidate"
        ),
        ("grid", "_optimise", "step < alpha -> step <= alpha"): (
            "a tie in the step length: every weight that reaches zero at that step is dropped just after "
            "(at most _TOL in floating point), whichever of the tied agents is named blocked"
        ),
        ("grid", "grid_paths", "w_s = np.zeros(n + 1) -> w_s = np.zeros(n + 0)"): (
            "the support holds at most n agents, so w_s is written and read at positions 0..n-1 only"
        ),
        (
            "grid",
            "grid_paths",
            "support = np.zeros(n + 1, dtype=np.int64) -> support = np.zeros(n + 0, dtype=np.int64)",
        ): (
            "as w_s: an agent joins at position s only while it is off the support of K <= n agents, "
            "so support is written and read at positions 0..n-1 only"
        ),
        ("grid", "_chol_delete", "s - 1 -> s - 0 (occurrence 2)"): (
            "the extra rotation (j = s - 1) turns no row (its range(j, s - 1) is empty) and pairs "
            "fy/ft at s - 1, cleared just after, with s, beyond the support and written by the next "
            "join before it is read"
        ),
        ("grid", "grid_paths", "K == 1 -> K == 0"): (
            "with the simplex and one agent the only feasible weight is 1, which _start_at has set: the "
            "active-set method run there confirms it at once (the KKT scan has no other agent)"
        ),
        ("grid", "_start_at", "w_s[0] = 1.0 -> w_s[0] = 2.0"): (
            "the weights are renormalised before they are read (K = 1 skips the method), except after the "
            "numerical corner of an emptied simplex support, which exact arithmetic never reaches"
        ),
        (
            "grid",
            "_optimise",
            "fy, ft, work, z = (scratch[0], scratch[1], scratch[2], scratch[4]) -> "
            "fy, ft, work, z = (scratch[0], scratch[1], scratch[2], scratch[3])",
        ): "row 3 of the scratch space is used by nothing else, so z may live there as well",
        ("grid", "_optimise", "return (-1, nu) -> return None (occurrence 2)"): (
            "unreachable: the loop returns at step == max_steps at the latest"
        ),
        ("grid", "_chol_delete", "L[c, s - 1] = 0.0 -> L[c, s - 0] = 0.0"): (
            "entries above the diagonal are read only inside the support (the rotation's L[j, j + 1], "
            "j + 1 < s); the stale column s - 1 and column s lie beyond the new support, and the next "
            "join that reaches either clears it before use"
        ),
        ("grid", "_chol_delete", "ft[s - 1] = 0.0 -> ft[s - 0] = 0.0"): (
            "as fy: entries s - 1 and s lie beyond the new support and are written by the next join "
            "before they are read"
        ),
        ("grid", "_optimise", "candidate < 0 -> candidate < 1"): (
            "at the loop's head candidate is -1 or the new agent K - 1; it is 0 only at K = 1 (NNLS, "
            "empty support), where the full scan over the one agent returns or joins exactly when the "
            "direct test does (best = min(m, 0) >= -tol iff m >= -tol)"
        ),
        ("grid", "_optimise", "mark[support[i]] = 1.0 -> mark[support[i]] = 0.0"): (
            "the mark only saves work: the scan starts from a solution on the support (the warm start, "
            "or the sub-problem's), where every support agent's multiplier is 0 up to rounding, far "
            "above -tol, so none of them is picked as a violator"
        ),
        ("grid", "_optimise", "alpha = 1.0 -> alpha = 0.0"): (
            "alpha is read only once a blocking agent has set it (the 'or blocked < 0' clause takes "
            "the first one whatever alpha was); with no blocking agent the weights are set to z"
        ),
        ("grid", "grid_paths", "w_s = np.zeros(n + 1) -> w_s = np.zeros(n + 2)"): (
            "positions of the support run below n: a further slot is never used"
        ),
        ("grid", "grid_paths", "scratch = np.zeros((7, n + 1)) -> scratch = np.zeros((8, n + 1))"): (
            "rows 0 to 6 of the scratch space are used: an eighth row is never read"
        ),
        ("grid", "grid_paths", "scratch[1, :] = 0.0 -> scratch[0, :] = 0.0"): (
            "as the reset of fy: ft is read only inside the support, and each entry is written when its "
            "agent joins (_start_at, _chol_append) before it is read"
        ),
        (
            "grid",
            "_start_at",
            "L[0, 0] = math.sqrt(Gp[j, j]) if Gp[j, j] > 0 else 1.0 -> "
            "L[0, 0] = math.sqrt(Gp[j, j]) if Gp[j, j] > 0 else 2.0",
        ): POSITIVE_START,
        ("grid", "grid_paths", "n = G_all.shape[1] -> n = G_all.shape[2]"): SQUARE_GRAMS,
        ("grid", "average_paths", "n = G_all.shape[1] -> n = G_all.shape[2]"): SQUARE_GRAMS,
        ("grid", "_chol_delete", "fy[s - 1] = 0.0 -> fy[s - 1] = 1.0"): (
            "as ft: the stale entry lies beyond the support, and the next join writes it before it is read"
        ),
        (
            "grid",
            "_start_at",
            "L[0, 0] = math.sqrt(Gp[j, j]) if Gp[j, j] > 0 else 1.0 -> "
            "L[0, 0] = math.sqrt(Gp[j, j]) if Gp[j, j] > 0 else 0.0",
        ): POSITIVE_START,
        ("grid", "_optimise", "return (-1, nu) -> return (-0, nu) (occurrence 2)"): (
            "unreachable: the loop returns at step == max_steps at the latest"
        ),
        ("grid", "grid_paths", "L[:, :] = 0.0 -> L[:, :] = 1.0"): (
            "every entry of the factor that is read is written first on each path: a join writes its "
            "row below the diagonal and the diagonal, and clears its column above it (_chol_append, "
            "_start_at), so the reset value is never seen"
        ),
        (
            "grid",
            "_optimise",
            "fy, ft, work, z = (scratch[0], scratch[1], scratch[2], scratch[4]) -> "
            "fy, ft, work, z = (scratch[0], scratch[1], scratch[3], scratch[4])",
        ): "as for z: row 3 of the scratch space is used by nothing else, so work may live there",
        ("grid", "_optimise", "candidate < 0 -> candidate <= 0"): (
            "as 'candidate < 1': candidate is an integer, 0 only at K = 1, where the full scan and the "
            "direct test agree"
        ),
        ("grid", "_optimise", "alpha = 1.0 -> alpha = 2.0"): (
            "as 'alpha = 0.0': the initial alpha is never read (the first blocking agent sets it)"
        ),
        ("grid", "grid_paths", "scratch[0, :] = 0.0 -> scratch[1, :] = 0.0"): (
            "neither reset is needed (fy and ft are written at each join before they are read): "
            "resetting ft twice and fy not at all changes nothing"
        ),
    }
)

# whole functions whose mutants are equivalent
EQUIVALENT_FUNCTIONS = {
    (
        "grid",
        "njit",
    ): "the stand-in decorator is defined only when numba is missing, and numba is a requirement",
}


def equivalence(name: str, m: Mutant) -> str | None:
    """Why the mutant is equivalent, or None."""
    return (
        m.equivalent
        or EQUIVALENT.get((name, m.function, m.description))
        or EQUIVALENT_FUNCTIONS.get((name, m.function.split(".")[0]))
    )


def mutate(tree: ast.Module, mutant: Mutant) -> tuple[str, str, str]:
    """The mutant's whole module source, and the shown expression before and after."""
    tree = copy.deepcopy(tree)
    nodes = mutable_nodes(tree)
    node, _, parent = nodes[mutant.site]
    parents = {id(child): above for above in ast.walk(tree) for child in ast.iter_child_nodes(above)}
    shown = context_of(node, parents)
    before = short(shown)
    apply = alternatives(node)[mutant.choice]
    if apply == "drop_not":
        # replace the UnaryOp by its operand inside the parent
        replacement = node.operand
        for field, value in ast.iter_fields(parent):
            if value is node:
                setattr(parent, field, replacement)
            elif isinstance(value, list):
                for i, item in enumerate(value):
                    if item is node:
                        value[i] = replacement
        after = short(replacement if shown is node else shown)
    else:
        apply(node)
        after = short(shown)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree) + "\n", before, after


# --- running the tests in the private copy -----------------------------------------------------


def sync_copy(copy_root: Path) -> None:
    """A fresh copy of the working tree (what ``rsync -a --delete`` with these excludes gives)."""
    excludes = [".venv", "_build", ".git", "runs", "__pycache__", ".pytest_cache", ".ipynb_checkpoints"]
    if copy_root.exists():
        shutil.rmtree(copy_root)
    copy_root.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO, copy_root, ignore=shutil.ignore_patterns(*excludes), symlinks=True)


def preload() -> None:
    """Import the heavy libraries once; every test run is a fork of this process."""
    import numba  # noqa: F401
    import numpy  # noqa: F401
    import pandas  # noqa: F401
    import pytest  # noqa: F401
    import scipy.optimize  # noqa: F401


WRONG_AVC = 97


def run_tests(
    copy_root: Path, module_file: str, tests: list[str], timeout: float, numba_dir: Path, log: Path
):
    """Run ``tests`` in a forked child against the copy; returns (status, seconds)."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 98
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.chdir(copy_root)
            sys.path.insert(0, str(copy_root / "src"))
            sys.dont_write_bytecode = True
            os.environ["NUMBA_CACHE_DIR"] = str(numba_dir)
            import numba.core.config

            numba.core.config.reload_config()
            import pytest

            import avc

            if not Path(avc.__file__).resolve().is_relative_to((copy_root / "src").resolve()):
                print(f"avc imported from {avc.__file__}, not from the copy {copy_root}", flush=True)
                os._exit(WRONG_AVC)
            code = int(pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-p", "no:nbval", *tests]))
            # tests that passed imported the module, and from the copy (a mutant that breaks the
            # import fails the tests: then the module may be missing, and the mutant is killed)
            dotted = ".".join(Path(module_file).with_suffix("").parts[1:])
            imported = sys.modules.get(dotted)
            if (imported is None and code == 0) or (
                imported is not None
                and Path(imported.__file__).resolve() != (copy_root / module_file).resolve()
            ):
                print(f"{dotted} was not imported from the copy", flush=True)
                code = WRONG_AVC
        except BaseException:  # noqa: BLE001 - report anything, then leave
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = start + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - start
        time.sleep(0.02)
    seconds = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code == WRONG_AVC:
        raise SystemExit("the tests did not run against the copy:\n" + log.read_text()[-3000:])
    return ("survived" if code == 0 else "killed"), seconds


def run_module(name: str, args, copy_root: Path) -> dict:
    module_file, tests, default_n = MODULES[name]
    target = copy_root / module_file
    original = (REPO / module_file).read_text()
    tree, mutants = enumerate_mutants(original)
    for m in mutants:
        m.equivalent = equivalence(name, m) or ""
    excluded = [m for m in mutants if m.equivalent]
    candidates = [m for m in mutants if not m.equivalent]
    n_max = args.max_mutants or default_n
    if args.ids:
        chosen = [m for m in candidates if m.index in set(args.ids)]
    elif len(candidates) > n_max:
        chosen = sorted(random.Random(f"{args.seed}:{name}").sample(candidates, n_max), key=lambda m: m.index)
    else:
        chosen = candidates
    if args.list:
        for m in chosen:
            print(f"{name} #{m.index} line {m.line} in {m.function}: {m.description}")
        for m in excluded:
            print(
                f"{name} #{m.index} line {m.line} in {m.function}: {m.description}  [equivalent: {m.equivalent}]"
            )
        return {}
    if target.read_text() != original:
        raise SystemExit(f"{target} differs from {REPO / module_file}: resync the copy")
    missing = [t for t in tests if not (copy_root / t).exists()]
    if missing:
        raise SystemExit(f"{name}: no test file {', '.join(missing)} in the copy")
    work = Path(tempfile.mkdtemp(prefix=f"mutation-{name}-", dir=copy_root.parent))
    shared_numba = copy_root.parent / "numba-cache"
    log = work / "pytest.log"
    try:
        target.write_text(ast.unparse(tree) + "\n")  # the baseline: the unmutated unparse
        status, base_s = run_tests(copy_root, module_file, tests, 600, shared_numba, log)
        if status != "survived":
            raise SystemExit(f"{name}: the unit tests fail on the unmutated module (see {log})")
        status, base_s = run_tests(copy_root, module_file, tests, 600, shared_numba, log)  # warm caches
        timeout = max(args.min_timeout, args.timeout_factor * base_s)
        print(
            f"{name}: {len(chosen)} of {len(candidates)} mutants (baseline {base_s:.1f} s, limit {timeout:.0f} s)"
        )
        for k, m in enumerate(chosen, 1):
            source, _, _ = mutate(tree, m)
            try:
                compile(source, str(target), "exec")
            except SyntaxError:
                m.status = "invalid"
                continue
            target.write_text(source)
            numba_dir = shared_numba
            if name in NUMBA_MODULES:
                numba_dir = work / f"numba-{m.index}"
            m.status, m.seconds = run_tests(copy_root, module_file, tests, timeout, numba_dir, log)
            if name in NUMBA_MODULES:
                shutil.rmtree(numba_dir, ignore_errors=True)
            if m.status == "survived":
                shutil.copy(log, work / f"survived-{m.index}.log")
            if args.verbose or m.status == "survived":
                print(
                    f"  [{k}/{len(chosen)}] #{m.index} {m.status:8s} {m.seconds:5.1f} s  line {m.line} "
                    f"{m.function}: {m.description}",
                    flush=True,
                )
    finally:
        target.write_text(original)
        shutil.rmtree(work, ignore_errors=True)
    run = [m for m in chosen if m.status != "invalid"]
    killed = sum(m.status in ("killed", "timeout") for m in run)
    return {
        "module": name,
        "file": module_file,
        "tests": tests,
        "generated": len(mutants),
        "excluded_equivalent": len(excluded),
        "sampled_from": len(candidates),
        "mutants": len(run),
        "killed": killed,
        "timeouts": sum(m.status == "timeout" for m in run),
        "survived": [asdict(m) for m in run if m.status == "survived"],
        "baseline_s": round(base_s, 2),
    }


def report(results: list[dict]) -> str:
    lines = [
        "| module | mutants | sampled from | excluded (equivalent) | killed | of which timeouts | survived | killed % |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        pct = 100 * r["killed"] / r["mutants"] if r["mutants"] else float("nan")
        lines.append(
            f"| {r['module']} | {r['mutants']} | {r['sampled_from']} | {r['excluded_equivalent']} | "
            f"{r['killed']} | {r['timeouts']} | {len(r['survived'])} | {pct:.1f} |"
        )
    for r in results:
        if r["survived"]:
            lines.append(f"\nSurvivors in {r['file']}:")
            lines += [f"  line {m['line']} in {m['function']}: {m['description']}" for m in r["survived"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: every core module ({', '.join(MODULES)})")
    parser.add_argument("--max-mutants", type=int, help="sample at most this many per module (seeded)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ids", type=int, nargs="+", help="run only these mutants (indices from --list)")
    parser.add_argument("--copy", type=Path, default=Path("/tmp/mutation/repo"), help="the private copy")
    parser.add_argument("--no-sync", action="store_true", help="use the copy as it is")
    parser.add_argument("--timeout-factor", type=float, default=4.0, help="limit = factor x baseline")
    parser.add_argument("--min-timeout", type=float, default=20.0, help="seconds")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every mutant's result")
    args = parser.parse_args(argv)
    names = args.modules or list(MODULES)
    unknown = sorted(set(names) - set(MODULES))
    if unknown:
        parser.error(f"unknown module(s) {', '.join(unknown)}; the core modules are {', '.join(MODULES)}")
    copy_root = args.copy.resolve()
    if copy_root == REPO or REPO in copy_root.parents:
        raise SystemExit("the copy must lie outside the repository")
    if not args.list:
        if os.nice(0) < 10:
            os.nice(10 - os.nice(0))
        if not args.no_sync:
            sync_copy(copy_root)
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
            os.environ[var] = "1"
        os.environ["NUMBA_CACHE_DIR"] = str(copy_root.parent / "numba-cache")
        preload()
    results = []
    for name in names:
        result = run_module(name, args, copy_root)
        if result:
            results.append(result)
            print(report([result]).split("\n")[2], flush=True)
    if results:
        print()
        print(report(results))
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
