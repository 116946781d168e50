"""Estimator exploration for the drift-robust protocol (selection set: 100 cells, seed 100).

Two passes of R interleaved rounds of r timed passes each, with a reference cell every 10 cells;
raw per-pass thread-CPU times are saved for benchmarks/measure_explore_analyze.py.

Usage: python benchmarks/measure_explore.py 100 8 5 OUT.npz
"""

import sys
import time

import numpy as np
import torch

from moohw.nets.nb201 import build_network
from moohw.spaces import get_space

sp = get_space("nb201")
n, R, r, m = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), 10
X = sp.sample(n, 100)
torch.set_num_threads(1)
ref_arch = X[0]


def run_pass(seed):
    rng = np.random.default_rng(seed)
    nets = [build_network(a, "cifar10", seed=0).eval() for a in X]
    ref = build_network(ref_arch, "cifar10", seed=0).eval()
    x = torch.randn(1, 3, 32, 32)
    samples = np.zeros((n, R, r))
    tms = np.zeros((n, R))
    refs = []
    reft = []
    t = 0

    def timed(net, k):
        out = np.empty(k)
        for j in range(k):
            t0 = time.thread_time()
            net(x)
            out[j] = (time.thread_time() - t0) * 1e3
        return out

    with torch.inference_mode():
        for net in nets:
            for _ in range(3):
                net(x)
        for rd in range(R):
            order = rng.permutation(n)
            for k, i in enumerate(order):
                if k % m == 0:
                    refs.append(np.median(timed(ref, r)))
                    reft.append(t)
                    t += 1
                nets[i](x)
                samples[i, rd] = timed(nets[i], r)
                tms[i, rd] = t
                t += 1
        refs.append(np.median(timed(ref, r)))
        reft.append(t)
    return samples, tms, np.array(refs), np.array(reft)


out = {}
for p in (0, 1):
    t0 = time.time()
    s, tm, rf, rt = run_pass(p + 7)
    print("pass", p, time.time() - t0, open("/proc/loadavg").read().split()[:3], flush=True)
    out.update({f"s{p}": s, f"t{p}": tm, f"r{p}": rf, f"rt{p}": rt})
np.savez(sys.argv[4], **out)
