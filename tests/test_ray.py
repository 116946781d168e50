"""The Ray fleet: placement by custom resource, warm actors, retry without losing measurements.

Marked ``ray``: run with ``pytest -m ray`` (needs ``pip install -e ".[ray]"``). A local Ray
instance advertises two fake device resources; each ``ray:`` device measures ``local:cpu``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from moohw.devices.ray_fleet import FleetError, RayDevice, ray_device
from moohw.measure import MeasurementStore

pytestmark = pytest.mark.ray
ray = pytest.importorskip("ray")

# small batches, so a kill lands mid-run (a drift-robust batch is measured as one unit)
FAST = "?warmup=1&rounds=2&min_rounds=2&round_repeats=2&batch_cells=2"


@pytest.fixture(scope="module")
def cluster():
    ray.init(
        num_cpus=2,
        resources={"fake_a": 1, "fake_b": 1},
        include_dashboard=False,
        log_to_driver=False,
    )
    yield
    ray.shutdown()


def test_actors_are_placed_by_resource_and_measure(cluster, nb201, tmp_path):
    st = MeasurementStore(tmp_path / "r.sqlite")
    a = ray_device("fake_a" + FAST, nb201, st)
    b = ray_device("fake_b" + FAST, nb201, st)
    X = nb201.sample(3, seed=0)
    la, lb = a.latency_ms(X), b.latency_ms(X)
    assert np.isfinite(la).all() and (la > 0).all() and np.isfinite(lb).all()
    # each actor holds its device resource: none of either is left while they live
    avail = ray.available_resources()
    assert avail.get("fake_a", 0) == 0 and avail.get("fake_b", 0) == 0
    assert a.fingerprint == b.fingerprint  # same host, same protocol: same hardware facts
    assert st.count() == 3  # the second device found the first one's measurements
    assert a.measurement_counts() == (3, 0) and b.measurement_counts() == (0, 3)
    a.shutdown()
    b.shutdown()
    time.sleep(0.5)
    assert ray.available_resources().get("fake_a", 0) == 1


def test_killed_actor_is_recreated_and_nothing_is_lost(cluster, nb201, tmp_path):
    st = MeasurementStore(tmp_path / "k.sqlite")
    dev = ray_device("fake_a" + FAST, nb201, st)
    assert isinstance(dev, RayDevice)
    X = nb201.sample(12, seed=1)
    done: list[str] = []

    def killer() -> None:
        while len(done) < 3:
            time.sleep(0.005)
        ray.kill(dev.actor(), no_restart=True)  # mid-way, possibly during a measurement

    t = threading.Thread(target=killer)
    t.start()
    ms = dev.measurements(X, lambda i, s, m, reused: done.append(s))
    t.join()
    assert len(ms) == 12 and all(m.latency_ms > 0 for m in ms)
    assert dev.n_restarts >= 1
    assert st.count(dev.fingerprint) == 12
    taken, reused = dev.measurement_counts()
    assert (taken, reused) == (12, 0)  # the measurement in flight was redone, nothing twice
    # a fresh driver-side device re-measures nothing
    again = ray_device("fake_a" + FAST, nb201, MeasurementStore(st.path))
    dev.shutdown()
    again.latency_ms(X)
    assert again.measurement_counts() == (0, 12)


def test_unknown_resource_is_one_clear_line(cluster, nb201, tmp_path):
    dev = ray_device("pixel3", nb201, MeasurementStore(tmp_path / "u.sqlite"))
    with pytest.raises(FleetError, match=r"no host in the Ray cluster advertises .*'pixel3'"):
        dev.latency_ms(nb201.sample(1, seed=0))


def _measure_app():
    import typer
    from moohw.cli.measure import measure_cmd

    app = typer.Typer()
    app.command("measure")(measure_cmd)
    app.command("noop")(lambda: None)
    return app


def test_measure_cli_backend_ray_two_devices_in_parallel(cluster, tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    out = tmp_path / "fleet.csv"
    args = ["measure", "--backend", "ray", "--device", "fake_a" + FAST, "--device"]
    args += ["ray:fake_b" + FAST + "&threads=1", "--sample", "3", "--seed", "2"]
    args += ["--store", str(tmp_path / "f.sqlite"), "--out", str(out)]
    r = CliRunner().invoke(_measure_app(), args)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out)
    assert len(df) == 6 and df["device"].nunique() == 2
    assert (df["latency_ms"] > 0).all()


def test_measure_cli_missing_resource_is_one_line(cluster, tmp_path):
    from typer.testing import CliRunner

    args = ["measure", "--backend", "ray", "--device", "pixel3", "--sample", "1"]
    args += ["--store", str(tmp_path / "f.sqlite"), "--out", str(tmp_path / "o.csv")]
    r = CliRunner().invoke(_measure_app(), args)
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "advertises resource 'pixel3'" in lines[0], r.output
    assert "Traceback" not in r.output


def test_unreachable_cluster_is_one_clear_line_in_seconds(tmp_path):
    code = (
        "from moohw.devices import get_device\n"
        "from moohw.spaces import NB201Space\n"
        "sp = NB201Space()\n"
        "get_device('ray:pixel3?address=127.0.0.1:1', sp).latency_ms(sp.sample(1, seed=0))\n"
    )
    t0 = time.time()
    r = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "MOOHW_STORE": str(tmp_path / "s.sqlite")},
    )
    assert r.returncode != 0 and time.time() - t0 < 60
    assert "FleetError: no Ray cluster at 127.0.0.1:1" in r.stderr
