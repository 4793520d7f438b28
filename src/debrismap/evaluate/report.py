"""Write an evaluation: evaluation.json, pr_curve.png, and a short table for the terminal."""

from __future__ import annotations

from pathlib import Path

from debrismap import atomic


def write_json(result: dict, path: Path) -> Path:
    """evaluation.json, strict JSON (no NaN), written atomically."""
    return atomic.write_json(path, result, allow_nan=False, ensure_ascii=True)


def plot_pr_curve(result: dict, path: Path) -> Path:
    """Precision-recall curves (IoU 0.50 and the operating IoU) with the operating point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    op = result["metrics"]["operating_point"]
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    for iou, curve in sorted(result["metrics"]["pr_curves"].items()):
        if curve["recall"]:
            ax.plot(curve["recall"], curve["precision"], label=f"IoU {iou}", linewidth=1.5)
    if op["precision"] is not None and op["recall"] is not None:
        ax.plot(
            [op["recall"]], [op["precision"]], "ko",
            label=f"operating point (score {op['score']:.2f}, IoU {op['iou']:.2f})",
        )
    ap50 = result["metrics"]["ap50"]
    ax.set_title("debrismap evaluate" + (f" - AP50 {ap50:.3f}" if ap50 is not None else ""))
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    try:
        with atomic.atomic_target(path) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return path


def _fmt(value, pattern="{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def _ci(entry) -> str:
    ci = entry.get("ci95")
    return "" if not ci else f"  [95% CI {ci[0]:.3f} .. {ci[1]:.3f}]"


def format_table(result: dict) -> str:
    m = result["metrics"]
    op = m["operating_point"]
    lines = [
        (f"frame: {result['frame']['kind']} ({result['frame']['crs_name'] or 'pixels'}), "
        f"evaluated area from {result['area']['source']}"),
        (f"truths {op['truths']}, detections {op['detections']} at score >= {op['score']:.2f} "
        f"({m['detections_loaded']} loaded)"),
        "",
        (f"detection @ IoU {op['iou']:.2f}: precision {_fmt(op['precision'])}  recall {_fmt(op['recall'])}  "
        f"F1 {_fmt(op['f1'])}  (TP {op['tp']}, FP {op['fp']}, FN {op['fn']})"),
        f"AP50 {_fmt(m['ap50'])}   AP50-95 {_fmt(m['ap50_95'])}",
    ]
    bins = m["sizes"].get("bins") or []
    if bins:
        lines += ["", f"{'size (side, m)':<18}{'truths':>8}{'dets':>8}{'recall':>9}{'precision':>11}"]
        for b in bins:
            hi = "inf" if b["max_side_m"] is None else f"{b['max_side_m']:g}"
            label = f"{b['name']} [{b['min_side_m']:g}, {hi})"
            lines.append(
                f"{label:<18}{b['truths']:>8}{b['detections']:>8}{_fmt(b['recall']):>9}{_fmt(b['precision']):>11}"
            )
    c = m["counting"]
    if c.get("cells"):
        t = c["total"]
        lines += [
            "",
            (f"counting on {c['cells']} cells of {c['cell_size']:g} "
            f"{'m' if result['frame']['unit_m'] else 'px'} ({c['cells_with_truth']} with truth):"),
            f"  per-cell MAE   {_fmt(c['mae']['value'])}{_ci(c['mae'])}",
            f"  per-cell bias  {_fmt(c['bias']['value'], '{:+.3f}')}{_ci(c['bias'])}",
            f"  relative error {_fmt(c['relative_error']['value'])}{_ci(c['relative_error'])}",
            f"  total: predicted {t['predicted']}, true {t['true']}, error {t['error']:+d}"
            + (f" ({t['relative_error']:+.1%})" if t["relative_error"] is not None else ""),
        ]
    else:
        lines += ["", c.get("note", "no counting cells")]
    return "\n".join(lines)
