"""Claims (leases) in the measurement store: workers sharing a store measure each cell once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from moohw.devices.local import LocalDevice
from moohw.errors import InputError
from moohw.measure import MeasurementStore, Protocol

FAST = Protocol(warmup=1, rounds=2, min_rounds=2, round_repeats=1, batch_cells=3)
KEY = ("fp", "nb201")


def test_a_claimed_key_is_skipped_by_others_until_its_lease_expires(tmp_path):
    st = MeasurementStore(tmp_path / "c.sqlite")
    assert st.claim(*KEY, FAST, ["a", "b", "c"], "w1", lease_s=0.5, limit=2) == ["a", "b"]
    assert st.claim(*KEY, FAST, ["a", "b", "c"], "w2", lease_s=0.5) == ["c"]
    assert st.claim(*KEY, FAST, ["a", "b"], "w2", lease_s=0.5) == []
    assert st.claim(*KEY, FAST, ["a"], "w1", lease_s=0.5) == ["a"]  # its own claim: renewed
    time.sleep(0.7)  # nobody renewed: every lease has run out
    assert st.claim(*KEY, FAST, ["a", "b"], "w2", lease_s=30) == ["a", "b"]
    assert set(st.claims()["owner"]) == {"w2"}


def test_renew_keeps_a_claim_and_storing_releases_it(tmp_path):
    from moohw.measure import Measurement

    st = MeasurementStore(tmp_path / "c.sqlite")
    st.claim(*KEY, FAST, ["a", "b"], "w1", lease_s=0.5)
    time.sleep(0.3)
    assert st.renew("w1", lease_s=0.5) == 2
    time.sleep(0.3)  # 0.6 s after the claim, 0.3 s after the renewal: still held
    assert st.claim(*KEY, FAST, ["a", "b"], "w2", lease_s=0.5) == []
    m = Measurement(1.0, 0.1, 0.1, 1.0, 0.9, 0.01, 2, 0, FAST, n_attempts=2)
    assert st.put("fp", "dev", "nb201", "a", m, "host")
    assert list(st.claims()["arch_str"]) == ["b"]  # the stored key's claim is gone
    assert st.claim(*KEY, FAST, ["a"], "w2") == []  # stored: never claimed again
    assert st.release("w1") == 1 and st.claims().empty
    with pytest.raises(InputError, match="lease_s"):
        st.claim(*KEY, FAST, ["a"], "w1", lease_s=0)


_WORKER = textwrap.dedent(
    """
    import json, sys
    from moohw.devices.local import LocalDevice
    from moohw.measure import MeasurementStore, Protocol
    from moohw.spaces import NB201Space
    sp = NB201Space()
    pool = sp.sample(24, seed=5)
    k = int(sys.argv[2])
    X = pool[[(k * 6 + j) % 24 for j in range(12)]]  # 12 cells, half shared with each neighbour
    p = Protocol(warmup=1, rounds=2, min_rounds=2, round_repeats=1, batch_cells=3)
    dev = LocalDevice(sp, p, store=MeasurementStore(sys.argv[1]), lease_s=float(sys.argv[3]))
    lat = dev.latency_ms(X)
    print(json.dumps({"taken": dev.n_taken, "reused": dev.n_reused, "n": len(lat)}))
    """
)


def test_four_concurrent_workers_measure_each_cell_once(tmp_path):
    store = tmp_path / "shared.sqlite"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, str(store), str(k), "30"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    outs = [json.loads(p.communicate(timeout=300)[0].strip().splitlines()[-1]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    st = MeasurementStore(store)
    distinct = 24  # the four overlapping windows of 12 cover the pool of 24
    assert st.count() == distinct
    assert sum(o["taken"] for o in outs) == distinct  # no cell measured twice
    assert all(o["taken"] + o["reused"] == o["n"] == 12 for o in outs)
    assert st.claims().empty  # every worker released what it held


def test_a_killed_workers_claims_expire_and_are_taken_over(nb201, tmp_path):
    store = tmp_path / "k.sqlite"
    child = subprocess.Popen([sys.executable, "-c", _WORKER, str(store), "0", "1.0"])
    st = MeasurementStore(store)
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until it holds claims, then kill it mid-batch
        if os.path.exists(store) and not st.claims().empty:
            break
        time.sleep(0.01)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    held = set(st.claims()["arch_str"])
    assert held, "the worker was killed before it claimed anything"
    before = st.count()
    X = nb201.sample(24, seed=5)[:12]
    dev = LocalDevice(nb201, FAST, store=st, lease_s=1.0)
    t0 = time.perf_counter()
    lat = dev.latency_ms(X)
    assert len(lat) == 12 and (lat > 0).all()
    assert st.count() == 12  # nothing lost, nothing measured twice
    assert (dev.n_taken, dev.n_reused) == (12 - before, before)
    assert time.perf_counter() - t0 < 60
    assert st.claims().empty
