"""``moohw report``: one figure and one page a person reads first, from a run folder.

The figure (``report.png``) shows every measured network, the declared front, the latency cap
and the picked networks; a second panel shows benchmark accuracy when it is known (an oracle,
never used by the search). The page (``report.md``) says which network to use, what was
measured, on what device, how long it took, and what to run next.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from moohw.plotting import _log_latency_axis
from moohw.recommend import PickRule, pick, quality_column, recommend, short_arch
from moohw.rundir import RunView, export_format
from moohw.spaces import get_space


@dataclass(frozen=True)
class Picked:
    """One picked network: the labels of the rules that chose it and its front row."""

    labels: tuple[str, ...]
    row: pd.Series


def standard_picks(view: RunView) -> list[Picked]:
    """The recommendation first, then fastest, most-accurate and knee (merged when equal).

    Without benchmark accuracy, ``most-accurate`` ranks by the proxy and is labelled
    ``best proxy``.
    """
    front = view.front
    if not len(front):
        return []
    rule, best = recommend(front, view.max_latency_ms)
    found: dict[str, list[str]] = {str(best["arch_str"]): [f"recommended ({rule.label})"]}
    rows = {str(best["arch_str"]): best}
    by_proxy = quality_column(front) == "proxy"
    for kind in ("fastest", "most-accurate", "knee"):
        if kind == rule.kind:
            continue
        r = pick(front, PickRule(kind)).iloc[0]
        rows.setdefault(str(r["arch_str"]), r)
        label = "best proxy" if kind == "most-accurate" and by_proxy else kind
        found.setdefault(str(r["arch_str"]), []).append(label)
    return [Picked(tuple(v), rows[k]) for k, v in found.items()]


def fmt_latency(row: pd.Series) -> str:
    """``1.234 ± 0.012 ms`` (spread = median absolute deviation), or without the spread."""
    lat = float(row["latency_ms"])
    sp = row.get("spread_ms", np.nan)
    return f"{lat:.4g} ms" if pd.isna(sp) else f"{lat:.4g} ± {float(sp):.2g} ms"


def _scatter(ax: Axes, view: RunView, picks: list[Picked], ycol: str, ylabel: str) -> None:
    m, front = view.measured, view.front
    off = m[~m["on_front"].astype(bool)]
    ax.scatter(off["latency_ms"], off[ycol], s=18, color="0.6", label="measured", zorder=2)
    if ycol == "proxy":  # the front is a staircase in what the search saw, not in accuracy
        ax.step(front["latency_ms"], front[ycol], where="post", color="tab:blue", lw=1, zorder=3)
    good = front[~front["degenerate"].astype(bool)]
    bad = front[front["degenerate"].astype(bool)]
    ax.errorbar(
        good["latency_ms"],
        good[ycol],
        xerr=good["spread_ms"].fillna(0).to_numpy(),
        fmt="o",
        ms=5,
        color="tab:blue",
        label="declared front",
        zorder=4,
    )
    if len(bad):
        ax.scatter(
            bad["latency_ms"],
            bad[ycol],
            s=40,
            marker="X",
            color="tab:red",
            label="front, degenerate cell (no conv)",
            zorder=5,
        )
    cap = view.max_latency_ms
    if cap is not None:
        ax.axvline(cap, color="tab:orange", ls="--", lw=1, label=f"--max-latency {cap:g} ms")
    for i, p in enumerate(picks):
        x, y = float(p.row["latency_ms"]), float(p.row[ycol])
        ax.scatter([x], [y], s=140, facecolors="none", edgecolors="black", lw=1.5, zorder=6)
        ax.annotate(
            ", ".join(p.labels),
            (x, y),
            xytext=(12, -16 - 14 * i),
            textcoords="offset points",
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "0.3", "lw": 0.8},
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "0.7", "alpha": 0.9},
            zorder=7,
        )
    _log_latency_axis(ax)
    ax.set_xlabel(f"measured latency on {view.device.get('name', '?')} (ms, log)")
    ax.set_ylabel(ylabel)
    ax.grid(True, which="both", alpha=0.25)


def plot_report(view: RunView, picks: list[Picked], out: str | Path) -> Path:
    """Write the report figure (PNG): proxy vs latency, and accuracy vs latency when known."""
    with_acc = view.accuracy_column is not None and view.measured["accuracy"].notna().any()
    n = 2 if with_acc else 1
    fig = Figure(figsize=(6.4 * n, 4.8), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    proxy = view.record.get("proxy", "proxy")
    _scatter(axes[0], view, picks, "proxy", f"proxy score `{proxy}` (higher is better)")
    axes[0].set_title("what the search saw")
    if with_acc:
        _scatter(
            axes[1], view, picks, "accuracy", f"benchmark accuracy, {view.accuracy_column} (%)"
        )
        axes[1].set_title("benchmark accuracy (oracle, not used by the search)")
    axes[0].legend(loc="lower right", fontsize=8)
    r = view.record
    fig.suptitle(
        f"{r.get('algo')} on {r.get('device')}: {len(view.measured)} networks measured, "
        f"{len(view.front)} on the declared front",
        fontsize=11,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    return out


def _arch_ops(arch_str: str, space: str) -> str:
    if space != "nb201":
        return ""
    return short_arch(get_space(space).from_str([arch_str])[0])


def _front_table(view: RunView, picks: list[Picked]) -> list[str]:
    labels = {str(p.row["arch_str"]): ", ".join(p.labels) for p in picks}
    acc = view.accuracy_column is not None
    head = ["#", "latency", "proxy", *(["accuracy %", "NB201 index"] if acc else []), "cell"]
    head += ["pick", "architecture"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, (_, r) in enumerate(view.front.iterrows()):
        cells = [str(i + 1), fmt_latency(r), f"{float(r['proxy']):.4g}"]
        if acc:
            cells += [f"{float(r['accuracy']):.2f}", str(r["bench_index"])]
        kind = str(r["cell"]) if r["cell"] == r["cell"] else ""
        cells.append(("**degenerate: " + kind + "**") if bool(r["degenerate"]) else kind)
        arch = str(r["arch_str"]).replace("|", "\\|")  # a bare | would split the table cell
        cells += [labels.get(str(r["arch_str"]), ""), f"`{arch}`"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _device_lines(view: RunView) -> list[str]:
    d = view.device
    out = [f"- device: `{d.get('name')}` ({d.get('kind', '?')})"]
    hw = d.get("hardware")
    if isinstance(hw, dict):
        parts = [str(hw.get(k)) for k in ("cpu", "gpu") if hw.get(k)]
        parts.append(f"{hw.get('cpu_count')} logical CPUs, torch {hw.get('torch')}")
        rt = d.get("runtime")
        if isinstance(rt, dict) and rt.get("runtime") not in (None, "torch-eager"):
            opts = ", ".join(f"{k}={v}" for k, v in (rt.get("runtime_options") or {}).items())
            parts.append(
                f"runtime {rt['runtime']} {rt.get('runtime_version')}"
                + (f" ({opts})" if opts else "")
            )
        out.append(f"- hardware: {'; '.join(parts)}")
        out.append(f"- fingerprint: `{d.get('fingerprint')}` (hardware + software + protocol)")
    pr = d.get("protocol")
    if isinstance(pr, dict):
        head = f"- protocol: batch {pr.get('batch_size')}, {pr.get('threads')} thread(s), "
        head += f"{pr.get('dtype')}, timer {pr.get('timer')}; "
        if int(pr.get("rounds", 1)) > 1:  # the drift-robust schedule
            out.append(
                head + f"up to {pr.get('rounds')} interleaved rounds of {pr.get('round_repeats')}"
                " timed passes (fastest kept), drift-corrected by a reference cell; latency = "
                "median over rounds, spread = median absolute deviation across rounds"
            )
        else:
            out.append(
                head + f"{pr.get('warmup')} warm-up + {pr.get('repeats')} timed passes, median;"
                " spread = median absolute deviation"
            )
    if d.get("note"):
        out.append(f"- note: {d['note']}")
    if not isinstance(hw, dict):
        out.append("- latencies are read from a table: no spread, cannot be re-measured")
    return out


def write_markdown(view: RunView, picks: list[Picked], png: Path | None, out: str | Path) -> Path:
    """Write ``report.md``: the network to use, what was measured, on what, how long it took."""
    r, run_dir = view.record, view.run_dir
    proxy = r.get("proxy", "?")
    acc = view.accuracy_column
    L = [f"# moohw run `{run_dir.name}`: {r.get('algo')} on `{r.get('device')}`", ""]
    L += ["## Use this network", ""]
    if not picks:
        cap = view.max_latency_ms
        why = f" under --max-latency {cap:g} ms" if cap is not None else ""
        L += [f"No network was declared{why}: nothing to recommend.", ""]
    else:
        best = picks[0].row
        L += [
            f"**{picks[0].labels[0]}**: `{best['arch_str']}`",
            "",
            f"- measured latency: {fmt_latency(best)} on `{r.get('device')}`",
            f"- proxy score ({proxy}, higher is better): {float(best['proxy']):.4g}",
        ]
        if acc is not None and not pd.isna(best["accuracy"]):
            L.append(
                f"- benchmark accuracy ({acc}): {float(best['accuracy']):.2f}% "
                f"(NB201 index {best['bench_index']}; an oracle the search never saw)"
            )
        if bool(best["degenerate"]):
            L.append(f"- warning: a degenerate cell ({best['cell']}); no other candidate was left")
        rule, _ = recommend(view.front, view.max_latency_ms)
        how = (
            "the knee of the front (farthest from the chord between its ends)"
            if rule.kind == "knee"
            else f"the best network {rule.label}, ranked by "
            + ("benchmark accuracy" if quality_column(view.front) == "accuracy" else "proxy score")
        )
        L += [
            f"- chosen as {how}; degenerate cells are skipped",
            "",
            "Next:",
            "",
            "```bash",
            f"moohw export {run_dir} --pick "
            + ("knee" if view.max_latency_ms is None else f"under:{view.max_latency_ms:g}")
            + f" --format {export_format(view.device.get('name'))} --out {run_dir / 'export'}",
            "```",
            "",
        ]
    L += ["## What was measured", ""]
    n_meas = r.get("n_target_measurements", len(view.measured))
    L.append(
        f"- {n_meas} networks measured of a budget of {r.get('budget')} "
        f"({r.get('measurements_taken', n_meas)} measured now, "
        f"{r.get('measurements_from_store', 0)} read from the store)"
    )
    L.append(f"- search space `{r.get('space')}`, proxy `{proxy}`, seed {r.get('seed')}")
    if view.max_latency_ms is not None:
        L.append(f"- latency cap: {view.max_latency_ms:g} ms (the declared front is cut there)")
    L += _device_lines(view)
    L += ["", "## How long it took", ""]
    wall = float(r.get("wall_time_s", float("nan")))
    taken = int(r.get("measurements_taken", 0) or 0)
    L.append(
        f"- search wall time: {wall:.1f} s"
        + (f" ({wall / taken:.2f} s per new measurement, search included)" if taken else "")
    )
    for k in ("hv_ratio", "igd_plus", "ceiling_hv_ratio"):
        if k in r:
            L.append(f"- {k}: {float(r[k]):.4f}")
    L += ["", "## The declared front (fastest first)", ""]
    L += _front_table(view, picks)
    n_deg = int(view.front["degenerate"].astype(bool).sum())
    if n_deg:
        L += [
            "",
            f"{n_deg} front member(s) are degenerate cells: no convolution on any "
            "input→output path (fast because they compute almost nothing).",
        ]
    if png is not None:
        L += ["", f"![measured networks, declared front and picks]({png.name})"]
    L += [
        "",
        "Files: `run.json`, `evaluations.csv`, `measured.csv`, `front.csv`, `device.json`.",
        "",
    ]
    out = Path(out)
    out.write_text("\n".join(L))
    return out


def write_report(view: RunView, out_dir: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``report.png`` and ``report.md`` into ``out_dir`` (default: the run folder)."""
    out_dir = Path(out_dir) if out_dir is not None else view.run_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    picks = standard_picks(view)
    png = plot_report(view, picks, out_dir / "report.png")
    md = write_markdown(view, picks, png, out_dir / "report.md")
    return png, md
