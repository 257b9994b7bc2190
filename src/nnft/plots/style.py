"""Drawing helpers shared by the figure families: one colour per width, Monte Carlo points with error bars,
pcolormesh cell edges, plain ticks on a log axis."""

from __future__ import annotations

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def width_colors(widths):
    """One viridis colour per width: {width: colour}."""
    return dict(zip(widths, plt.cm.viridis(np.linspace(0.1, 0.85, len(widths))), strict=True))


def mc_points(ax, x, y, se, color, n, ms=3.0, capsize=1.5):
    """Monte Carlo estimates at width n with 2 s.e. bars."""
    ax.errorbar(x, y, yerr=2 * se, fmt="o", ms=ms, color=color, capsize=capsize, label=f"MC n={n}")


def cell_edges(centres, log: bool = False):
    """Cell edges midway between centres (geometric midpoints on a log axis) for pcolormesh."""
    c = np.log(centres) if log else np.asarray(centres, dtype=float)
    mid = (c[1:] + c[:-1]) / 2
    if c.size == 1:
        edges = c + np.array([-0.5, 0.5])
    else:
        edges = np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])
    return np.exp(edges) if log else edges


def log_ticks(axis, values):
    """Plain tick labels at `values` on a log axis spanning about a decade (instead of 2 x 10^0), no minor labels."""
    axis.set_ticks(values, [f"{v:g}" for v in values])
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
