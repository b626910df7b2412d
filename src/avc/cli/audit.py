"""``python -m avc audit PANEL --target COL [...]``: audit any panel of agents for its users.

    python -m avc audit panel.csv --target human --json audit.json --report audit.html

PANEL is a CSV, CSV.gz or Parquet file with one row per item; by default every numeric column
other than the targets and the id (``item``, ``item_id`` or ``id``) is an agent. For each target
the command prints ε (hull and constant, on all items and held out), the held-out gains of NNLS
and the simplex over four baselines with 95 % intervals that include refitting, the diversity
and the sparsity (:func:`avc.fitting.panel_audit.audit_panel`); ``--json`` writes everything,
``--report`` an HTML report (the notebook ``audit_report.ipynb`` beside this module, executed with
papermill and converted with nbconvert). Bad input is refused before any work, in one line that
names the file, the column and the fix (exit code 2).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from pathlib import Path

__all__ = ["REPORT_TEMPLATE", "AuditInputError", "add_audit_command", "render_report", "run_audit"]

REPORT_TEMPLATE = Path(__file__).with_name("audit_report.ipynb")
BASELINES = ("raw best", "rescaled best", "affine best", "constant")


class AuditInputError(ValueError):
    """An option the audit cannot use; printed as one line, exit code 2."""

    exit_code = 2


def add_audit_command(sub, name: str) -> None:
    parser = sub.add_parser(name, help="audit a panel of agents against one or more targets (users)")
    parser.add_argument("panel", metavar="PANEL", help="CSV, CSV.gz or Parquet: one row per item")
    parser.add_argument(
        "--target",
        action="append",
        required=True,
        metavar="COL",
        help="a target column (repeat for several users)",
    )
    parser.add_argument(
        "--agents", nargs="+", metavar="A", help="the agent columns (default: every other numeric column)"
    )
    parser.add_argument(
        "--id", dest="id_column", metavar="COL", help="the items' id column (default: item, item_id or id)"
    )
    parser.add_argument("--json", metavar="OUT", help="write the whole audit as JSON")
    parser.add_argument("--report", metavar="OUT.html", help="write an HTML report with the figures")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    parser.add_argument(
        "--splits", type=int, default=10, help="fold splits for the held-out gains (default 10)"
    )
    parser.add_argument(
        "--boot", type=int, default=1000, help="item resamples for the 95%% intervals (default 1000)"
    )
    parser.add_argument(
        "--perms", type=int, default=20, help="agent orders for the curve against K (default 20)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument(
        "--scale",
        nargs=2,
        type=float,
        metavar=("LOW", "HIGH"),
        help="keep predictions on this scale, e.g. 0 100",
    )
    parser.add_argument(
        "--no-refit", action="store_true", help="intervals with the fits held fixed only (faster)"
    )
    parser.add_argument(
        "--refit-splits", type=int, default=1, help="fold splits per refitted resample (default 1)"
    )
    parser.set_defaults(handler=_audit)


def _check_options(args) -> None:
    for option, value, least in (
        ("--folds", args.folds, 2),
        ("--splits", args.splits, 1),
        ("--boot", args.boot, 1),
        ("--perms", args.perms, 1),
        ("--seed", args.seed, 0),
        ("--refit-splits", args.refit_splits, 1),
    ):
        if value < least:
            raise AuditInputError(f"{option} must be at least {least}; got {value}.")
    if args.scale is not None:
        low, high = args.scale
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise AuditInputError(f"--scale needs LOW < HIGH, both finite; got {low} {high}.")
    for option, path in (("--json", args.json), ("--report", args.report)):
        if path is not None and not Path(path).expanduser().resolve().parent.is_dir():
            raise AuditInputError(
                f"{option} {path}: the folder {Path(path).parent} does not exist; create it first."
            )


def run_audit(args) -> dict:
    """Read, check and audit the panel of ``args`` (the parsed options); returns the JSON dict."""
    from avc.fitting.panel_audit import audit_panel
    from avc.fitting.panel_input import prepare_panel, read_panel

    _check_options(args)
    frame = read_panel(args.panel)
    panel = prepare_panel(
        frame,
        args.target,
        agents=args.agents,
        id_column=args.id_column,
        n_folds=args.folds,
        source=args.panel,
    )
    options = dict(
        n_folds=args.folds,
        n_splits=args.splits,
        n_boot=args.boot,
        n_perms=args.perms,
        seed=args.seed,
        clip=tuple(args.scale) if args.scale else None,
        refit=not args.no_refit,
        refit_splits=args.refit_splits,
    )
    print(
        f"{args.panel}: {len(panel.agents)} items, {panel.agents.shape[1]} agents, "
        f"{len(panel.targets)} target(s); {panel.n_filled} missing score(s) filled with the agent's median"
        + (f"; left out (no score): {', '.join(panel.dropped_agents)}" if panel.dropped_agents else "")
    )
    start = time.perf_counter()
    result = audit_panel(panel, **options)
    result["settings"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in options.items()}
    result["settings"]["seconds"] = round(time.perf_counter() - start, 2)
    return result


def _signed(value) -> str:
    return "  n/a" if value is None else f"{round(value, 2) + 0.0:+.2f}"


def summary_lines(result: dict) -> list[str]:
    """What the terminal shows: a few lines per target, then the ranking of several targets."""
    lines = []
    for name, t in result["targets"].items():
        e = t["eps"]
        lines.append(f"target {name}: {t['items']} items, {t['agents']} agents")
        lines.append(
            f"  ε hull {e['hull']:.4g} (constant {e['constant']:.4g}); held out {e['hull_held_out']:.4g} "
            f"(constant {e['constant_held_out']:.4g})"
        )
        lines.append("  held-out gain [95% refit interval] over: " + ", ".join(BASELINES))
        for method, row in t["gains"].items():
            cells = [
                f"{_signed(row[b]['gain'])} [{_signed(row[b]['low'])}, {_signed(row[b]['high'])}]"
                for b in BASELINES
            ]
            lines.append(f"    {method:8s} " + "  ".join(cells))
        d, s = t["diversity"], t["sparsity"]
        corr = d["mean_pairwise_corr"]
        lines.append(
            "  diversity: mean pairwise corr "
            + ("n/a" if corr is None else f"{corr:.2f}")
            + ", first component "
            + ("n/a" if d["first_pc_share"] is None else f"{d['first_pc_share']:.0%}")
            + ", best corr with target "
            + ("n/a" if d["best_corr_with_target"] is None else f"{d['best_corr_with_target']:.2f}")
        )
        lines.append(
            f"  sparsity at K = {t['agents']}: NNLS {s['NNLS']:.1f} agents, simplex {s['simplex']:.1f}; "
            f"the hull's LP weights {s['hull']}"
        )
    if len(result["targets"]) > 1:
        lines.append("served worst first (held-out ε, hull / constant):")
        for row in result["ranking"]:
            lines.append(
                f"  {row['target']}: {row['ratio_held_out']:.2f} (half range {row['half_range']:.4g})"
            )
        if result.get("range_effect") is not None:
            lines.append(
                f"in-sample ε against half the target's range: correlation {result['range_effect']:.2f}"
            )
    return lines


def render_report(audit_json, out_html, progress: bool = False) -> Path:
    """Execute the report template on ``audit_json`` with papermill and convert it to HTML."""
    import nbformat
    import papermill
    from nbconvert import HTMLExporter

    from avc.cli.kernels import AsyncPrivateSocketKernelManager

    out_html = Path(out_html).expanduser().resolve()
    with tempfile.TemporaryDirectory() as folder:
        executed = Path(folder) / "audit_report.ipynb"
        papermill.execute_notebook(
            str(REPORT_TEMPLATE),
            str(executed),
            parameters={"audit_json": str(Path(audit_json).resolve())},
            kernel_name="python3",
            progress_bar=progress,
            cwd=folder,
            kernel_manager_class=AsyncPrivateSocketKernelManager,
        )
        exporter = HTMLExporter()
        exporter.exclude_input = True  # a reader's report: the figures and tables, not the code
        body, _ = exporter.from_notebook_node(nbformat.read(executed, as_version=4))
    out_html.write_text(body, encoding="utf-8")
    return out_html


def _audit(args) -> int:
    result = run_audit(args)
    for line in summary_lines(result):
        print(line)
    json_path = args.json
    if json_path is None and args.report:
        handle, json_path = tempfile.mkstemp(suffix=".json")
        os.close(handle)
    if json_path is not None:
        Path(json_path).write_text(json.dumps(result, indent=1, allow_nan=False), encoding="utf-8")
        if args.json:
            print(f"JSON written to {args.json}")
    if args.report:
        print(f"HTML report written to {render_report(json_path, args.report)}")
        if args.json is None:
            os.unlink(json_path)
    return 0
