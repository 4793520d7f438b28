"""How the total count depends on the score threshold, and the low / central / high figures.

detect records detections at its own threshold and candidates (candidates.gpkg) down to a
lower floor (default 0.05), so the curve starts at the floor and the "high" figure is a real,
looser count. Runs made before candidates existed start at the run threshold, where "high"
equals "central". The range describes sensitivity to the detector's threshold only; the
calibrated estimate (debrismap.calibration, when the model carries a calibration) is the
figure that accounts for the detector's error against ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from debrismap.calibration import CountCalibration

THRESHOLD_STEP = 0.05
# The stricter / looser thresholds quoted as the low / high figures, around the operating one.
RANGE_DELTA = 0.10


@dataclass
class Sensitivity:
    thresholds: np.ndarray
    counts: np.ndarray
    run_threshold: float
    scores: np.ndarray  # every recorded score, for the exact curve in the figure

    def exact_curve(self) -> tuple[np.ndarray, np.ndarray]:
        """(threshold, count) at every distinct score: count(t) = number of scores >= t."""
        s = np.sort(self.scores)
        if s.size == 0:
            return np.array([self.run_threshold, 1.0]), np.array([0, 0])
        uniq, first = np.unique(s, return_index=True)
        return uniq, s.size - first


def threshold_curve(scores: np.ndarray, run_threshold: float, step: float = THRESHOLD_STEP) -> Sensitivity:
    """Count at each threshold from the run's upward; non-increasing by construction."""
    top = max(float(scores.max()) if len(scores) else run_threshold, run_threshold)
    steps = np.round(np.arange(np.ceil(run_threshold / step) * step, 1.0 + step / 2, step), 6)
    steps = steps[(steps > run_threshold + 1e-9) & (steps <= 1.0)]
    # The run threshold itself is kept exact: it is the first row and the curve's anchor.
    grid = np.unique(np.concatenate([[run_threshold], steps, [top] if top > run_threshold else []]))
    counts = np.array([np.count_nonzero(scores >= t - 1e-12) for t in grid], dtype=np.int64)
    return Sensitivity(grid, counts, run_threshold, np.asarray(scores, dtype=float))


def count_summary(
    scores: np.ndarray,
    run_threshold: float,
    operating_threshold: float,
    validation: dict | None = None,
    delta: float = RANGE_DELTA,
    candidate_scores: np.ndarray | None = None,
    candidate_floor: float | None = None,
) -> dict:
    """The figures an article can quote, each with what it means spelled out.

    `scores` are the detections' (central and low come from them, exactly as counted on the
    map); `candidate_scores` reach down to `candidate_floor` and give the looser "high".
    """
    floor = run_threshold if candidate_scores is None or candidate_floor is None else min(candidate_floor, run_threshold)
    strict = min(operating_threshold + delta, 1.0)
    loose = max(operating_threshold - delta, floor)

    def at(t: float, among: np.ndarray = scores) -> int:
        return int(np.count_nonzero(among >= t - 1e-12))

    central, low = at(operating_threshold), at(strict)
    high = at(loose) if loose >= run_threshold or candidate_scores is None else at(loose, candidate_scores)
    summary = {
        "central": central,
        "low": low,
        "high": high,
        "central_threshold": round(operating_threshold, 4),
        "low_threshold": round(strict, 4),
        "high_threshold": round(loose, 4),
        "run_threshold": round(run_threshold, 4),
        "candidate_floor": round(floor, 4),
        "meaning": {
            "central": f"piles detected at the operating score threshold {operating_threshold:.2f}",
            "low": f"piles detected at a stricter threshold {strict:.2f} (fewer, more certain detections)",
            "high": (
                f"piles detected at a looser threshold {loose:.2f}"
                if loose < operating_threshold
                else f"equal to central: boxes below {floor:.2f} were not recorded, so no looser "
                "count is known (rerun detect with a lower --candidate-floor to see one)"
            ),
            "range": "the spread shows how much the count depends on the detector's score "
            "threshold; it is not a confidence interval, does not include piles the "
            "detector missed at every threshold, and covers only the analysed imagery",
        },
    }
    precision = (validation or {}).get("precision")
    recall = (validation or {}).get("recall")
    if precision is not None and recall:
        estimate = central * float(precision) / float(recall)
        summary["precision_corrected"] = round(estimate, 1)
        summary["meaning"]["precision_corrected"] = (
            f"central × precision {float(precision):.2f} / recall {float(recall):.2f} from the "
            "model's validation set: an estimate of the true number of piles, valid only if "
            "this imagery resembles the validation imagery"
        )
    return summary


def add_calibrated_estimate(summary: dict, calibration: dict | None, scores: np.ndarray, floor: float,
                            inputs: list[dict]) -> dict:
    """Add `calibrated` (estimate + interval, or None) and `outside_calibration` to a count summary.

    `scores`: every recorded box in the analysed area (candidates when the run has them) down
    to `floor`; the estimate counts those at or above the calibration's count threshold, or at
    the floor when nothing was recorded that low.
    """
    summary["calibrated"] = None
    summary["outside_calibration"] = []
    if not calibration:
        return summary
    try:
        table = CountCalibration.from_dict(calibration)
    except (KeyError, TypeError, ValueError):
        return summary  # a damaged table is no table: the summary says the count is uncalibrated
    estimate = table.estimate(scores, threshold=max(table.count_threshold, floor))
    summary["calibrated"] = estimate
    summary["outside_calibration"] = table.outside(inputs)
    summary["meaning"]["calibrated"] = (
        f"sum over the {estimate['boxes_counted']:,} boxes scoring >= {estimate['threshold']:.2f} of the "
        f"calibration's precision at their score, divided by its recall {estimate['recall']:.2f} at that "
        f"threshold; measured on {len(table.scenes)} held-out composite scenes "
        f"({table.imagery.get('kind') or 'real backgrounds, synthetic piles'}), so it holds for imagery "
        "and piles like those; the interval adds the calibration's own uncertainty, how much the "
        "detector varied between the calibration's backgrounds, and this count's sampling noise"
    )
    return summary


def summary_text(summary: dict, total_valid_km2: float) -> str:
    m = summary["meaning"]
    lines = [
        f"Debris piles in the analysed imagery ({total_valid_km2:.2f} km²):",
        f"  central: {summary['central']:,} — {m['central']}",
        f"  low:     {summary['low']:,} — {m['low']}",
        f"  high:    {summary['high']:,} — {m['high']}",
    ]
    if "precision_corrected" in summary:
        lines.append(f"  precision-corrected: {summary['precision_corrected']:,} — {m['precision_corrected']}")
    lines += calibrated_lines(summary)
    lines += ["", "What the range means: " + m["range"] + ".",
              below_floor_sentence(summary)]
    return "\n".join(lines) + "\n"


def below_floor_sentence(summary: dict) -> str:
    floor = summary.get("candidate_floor", summary["run_threshold"])
    if floor >= summary["run_threshold"]:
        return f"Below the run threshold {summary['run_threshold']:.2f} nothing is known."
    return (f"Below the candidate floor {floor:.2f} nothing was recorded (detect's --candidate-floor; "
            f"detections are kept from {summary['run_threshold']:.2f}).")


def calibrated_lines(summary: dict) -> list[str]:
    """The calibrated estimate, its interval, and plainly when the imagery is outside the calibration."""
    cal = summary.get("calibrated")
    if not cal:
        return ["", "Calibrated estimate: none (the model carries no count calibration); "
                "the counts above are detections, not an estimate of the true number of piles."]
    if cal.get("central") is None:
        return ["", "Calibrated estimate: none (the calibration's recall at this threshold is zero)."]
    lines = ["", f"Calibrated estimate of the true number of piles: {cal['central']:,.0f} "
             f"({cal['level']:.0%} interval {cal['low']:,}-{cal['high']:,})",
             "  " + summary["meaning"]["calibrated"]]
    lines.append("  Checked against the calibration: pixel size, bands, bit depth. Not checked: season, sensor, "
                 "and whether real debris looks like the calibration's synthetic piles.")
    outside = summary.get("outside_calibration") or []
    if outside:
        lines.append("  WARNING: this imagery is outside what the calibration saw, so the estimate and its "
                     "interval may be wrong:")
        lines += [f"    - {text}" for text in outside]
    return lines


def sensitivity_figure(curve: Sensitivity, operating_threshold: float, summary: dict | None = None):
    """The exact count-vs-threshold step curve, the unrecorded zone shaded, the quoted points marked."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    colour = "#3b0f70"
    fig = Figure(figsize=(3.6, 2.4), dpi=300)
    ax = fig.add_axes([0.17, 0.2, 0.78, 0.62])
    xs, ys = curve.exact_curve()
    # count(t) steps down just after each score: draw it as a post-step from the run threshold.
    x = np.concatenate([[curve.run_threshold], xs[xs > curve.run_threshold], [1.0]])
    first = int(np.count_nonzero(curve.scores >= curve.run_threshold - 1e-12))
    y = np.concatenate([[first], ys[xs > curve.run_threshold], [0]])
    ax.step(x, y, where="pre", color=colour, linewidth=1.1)
    ax.axvspan(0, curve.run_threshold, color="#dddddd", zorder=0)
    ax.text(curve.run_threshold / 2, 0.5, "not recorded\n(below the\nlowest score\nkept)",
            transform=ax.get_xaxis_transform(), ha="center", va="center",
            fontsize=6.5 if curve.run_threshold < 0.2 else 7, color="#555555")
    ax.axvline(operating_threshold, color="#c2185b", linewidth=0.8, linestyle="--")
    top = max(int(curve.counts.max()) if len(curve.counts) else 1, 1)
    if summary:
        for key in ("low", "central", "high"):
            t, n = summary[f"{key}_threshold"], summary[key]
            ax.plot([t], [n], "o", ms=3, color="#c2185b", zorder=5)
        ax.annotate(f"low {summary['low']:,}", (summary["low_threshold"], summary["low"]),
                    xytext=(4, 3), textcoords="offset points", fontsize=7, color="#c2185b")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, top * 1.08)
    ax.set_xlabel("Score threshold", fontsize=7)
    ax.set_ylabel("Piles counted", fontsize=7)
    ax.tick_params(labelsize=7, width=0.5, length=2)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.text(0.02, 0.97, "Count against detector score threshold", fontsize=8, fontweight="bold", va="top")
    central = f" ({summary['central']:,} piles)" if summary else ""
    fig.text(0.02, 0.905, f"dashed: operating threshold {operating_threshold:.2f}{central}", fontsize=7,
             va="top", color="#c2185b")
    return fig
