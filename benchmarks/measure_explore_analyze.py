"""Test-retest rho of latency estimators on the raw samples of measure_explore.py.

Usage: python benchmarks/measure_explore_analyze.py OUT.npz
"""

import sys

import numpy as np
from scipy.stats import spearmanr

d = np.load(sys.argv[1])


def est(p, R, kind):
    s = d[f"s{p}"][:, :R]
    t = d[f"t{p}"][:, :R]
    rf = d[f"r{p}"]
    rt = d[f"rt{p}"]
    if kind == "median":
        return np.median(s.reshape(len(s), -1), 1)
    if kind == "min":
        return s.reshape(len(s), -1).min(1)
    if kind == "p10":
        return np.percentile(s.reshape(len(s), -1), 10, axis=1)
    if kind == "p25":
        return np.percentile(s.reshape(len(s), -1), 25, axis=1)
    if kind == "medmin":
        return np.median(s.min(2), 1)
    sp = np.interp(t, rt, rf)
    c = s / sp[:, :, None]
    if kind == "refmed":
        return np.median(c.reshape(len(s), -1), 1)
    if kind == "refmin":
        return np.median(s.min(2) / sp, 1)
    if kind == "refp25":
        return np.percentile(c.reshape(len(s), -1), 25, axis=1)


R = d["s0"].shape[1]
for p in (0, 1):
    rf = d[f"r{p}"]
    print(f"pass {p}: ref median {np.median(rf):.3f} ms, range {rf.min():.3f}-{rf.max():.3f}")
for kind in ["median", "min", "p10", "p25", "medmin", "refmed", "refmin", "refp25"]:
    row = [f"{spearmanr(est(0, r, kind), est(1, r, kind)).statistic:.4f}" for r in (1, 2, 4, R)]
    print(f"{kind:8s}", " ".join(row))
print("split-half (refmin per round) by R, Spearman-Brown")
for p in (0, 1):
    s = d[f"s{p}"]
    t = d[f"t{p}"]
    sp = np.interp(t, d[f"rt{p}"], d[f"r{p}"])
    pr = (s.min(2) / sp).T  # (R, n)
    out = []
    for R in range(2, pr.shape[0] + 1):
        a = np.median(pr[:R:2], 0)
        b = np.median(pr[1:R:2], 0)
        r = spearmanr(a, b).statistic
        out.append(f"{R}:{r:.3f}/{2 * r / (1 + r):.3f}")
    print(p, " ".join(out))
