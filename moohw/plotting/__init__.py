"""Figures regenerated from stored run records (DESIGN.md: a plot is never the only copy).

For a ``moohw compare`` folder: declared fronts per device with the true front, HV ratio vs the
budget K with 95% intervals, median attainment surfaces over seeds (the empirical attainment
function of López-Ibáñez, Paquete and Stützle, computed by moocore), and the latency
monotonicity of the compared devices. Also the predictor curves of the latency task suite.

The functions live in :mod:`~moohw.plotting.layout` (shared plumbing),
:mod:`~moohw.plotting.front_figures` (fronts, attainment) and
:mod:`~moohw.plotting.run_figures` (HV vs K, monotonicity, predictor curves, a whole folder);
``moohw.plotting.<name>`` stays the import path.
"""

from moohw.plotting.front_figures import MEDIAN, attainment, fronts, median_attainment
from moohw.plotting.front_figures import _frame as _frame
from moohw.plotting.layout import _log_latency_axis as _log_latency_axis
from moohw.plotting.layout import algo_colors
from moohw.plotting.run_figures import (
    devices_monotonicity,
    hv_vs_budget,
    monotonicity_heatmap,
    plot_run_dir,
    predictor_curves,
)

__all__ = [
    "MEDIAN",
    "algo_colors",
    "attainment",
    "devices_monotonicity",
    "fronts",
    "hv_vs_budget",
    "median_attainment",
    "monotonicity_heatmap",
    "plot_run_dir",
    "predictor_curves",
]
