"""The persistent measurement store: round trip, WAL, concurrent writers, resume, export."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
import typer
from moohw.cli.measure import store_app
from typer.testing import CliRunner

from moohw.devices import get_device
from moohw.devices.local import LocalDevice
from moohw.measure import Measurement, MeasurementStore, Protocol, StoreError, default_store_path
from moohw.runs import Ledger

TINY = Protocol(warmup=1, repeats=3)


@pytest.fixture(autouse=True)
def _private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MOOHW_STORE", str(tmp_path / "default.sqlite"))


def _m(lat: float, p: Protocol = TINY) -> Measurement:
    return Measurement(lat, 0.1, 0.2, lat + 0.05, lat - 0.1, 0.01, 3, 0, p, n_attempts=2)


def test_default_path_follows_env(tmp_path, monkeypatch):
    assert default_store_path() == tmp_path / "default.sqlite"
    assert MeasurementStore().path == tmp_path / "default.sqlite"
    monkeypatch.delenv("MOOHW_STORE")
    assert default_store_path().name == "measurements.sqlite"
    assert "moohw" in str(default_store_path())


def test_round_trip_first_write_wins_and_wal(tmp_path):
    st = MeasurementStore(tmp_path / "s.sqlite")
    assert not st.path.exists()  # nothing is opened before first use
    assert st.put("fp", "local:cpu", "nb201", "a", _m(1.5), "h1")
    assert not st.put("fp", "local:cpu", "nb201", "a", _m(9.0), "h2")
    st.put("fp", "local:cpu", "nb201", "b", _m(2.5), "h1")
    got = st.get("fp", "nb201", TINY, ["a", "zzz"])
    assert got == {"a": _m(1.5)}
    assert st.get("fp", "nb201", Protocol(), ["a"]) == {}  # other protocol: not the same key
    assert st.get("other", "nb201", TINY) == {}
    assert st.count() == 2 and st.count("fp") == 2
    assert st.journal_mode() == "wal"
    raw = sqlite3.connect(st.path)  # WAL is a property of the file, seen by any client
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()
    [s] = st.summary()
    assert (s.fingerprint, s.device, s.space, s.count) == ("fp", "local:cpu", "nb201", 2)


def test_unreadable_store_is_a_clear_error(tmp_path):
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database" * 200)
    with pytest.raises(StoreError, match=r"cannot open measurement store .*junk.sqlite"):
        MeasurementStore(junk).count()
    with pytest.raises(StoreError, match="is a directory"):
        MeasurementStore(tmp_path).count()


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from moohw.measure import Measurement, MeasurementStore, Protocol
    path, worker, n, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    st = MeasurementStore(path, timeout_s=30)
    st.count()  # connected; now wait so that both processes write at the same time
    open(go + str(worker), "w").close()
    while not os.path.exists(go):
        time.sleep(0.001)
    m = Measurement(1.0, 0.1, 0.2, 1.05, 0.9, 0.01, 3, 0, Protocol(warmup=1, repeats=3))
    for i in range(n):
        # keys 0..n/2 are written by both workers; the rest are private
        key = f"shared{i}" if i < n // 2 else f"w{worker}-{i}"
        st.put("fp", "local:cpu", "nb201", key, m, f"w{worker}")
    """
)


def test_concurrent_writers_from_two_processes(tmp_path):
    path = str(tmp_path / "c.sqlite")
    go = str(tmp_path / "go")
    MeasurementStore(path).count()  # create the schema first, as a driver would
    procs = [
        subprocess.Popen([sys.executable, "-c", _WRITER, path, str(w), "200", go]) for w in (0, 1)
    ]
    deadline = time.time() + 60
    while not all(os.path.exists(go + str(w)) for w in (0, 1)) and time.time() < deadline:
        time.sleep(0.01)
    open(go, "w").close()
    assert [p.wait(60) for p in procs] == [0, 0]
    df = MeasurementStore(path).to_frame()
    assert len(df) == 100 + 2 * 100  # shared keys once, private keys of both workers
    assert not df.duplicated(["fingerprint", "space", "arch_str", "protocol_hash"]).any()
    assert set(df["host"]) == {"w0", "w1"}


def test_resume_without_remeasuring(nb201, tmp_path):
    st = MeasurementStore(tmp_path / "r.sqlite")
    X = nb201.sample(5, seed=4)
    first = LocalDevice(nb201, TINY, store=st)
    lat3 = first.latency_ms(X[:3])
    # a "restarted run": a new device object (and ledger) on the same store
    again = LocalDevice(nb201, TINY, store=MeasurementStore(st.path))
    ledger = Ledger(nb201, again, budget=5)
    lat5 = ledger.measure(X)
    assert np.array_equal(lat5[:3], lat3)
    assert again.measurement_counts() == (2, 3)
    assert (ledger.n_target_measurements, ledger.n_taken, ledger.n_from_store) == (5, 2, 3)
    assert st.count(first.fingerprint) == 5


def test_measurement_race_first_stored_wins(nb201, tmp_path):
    st = MeasurementStore(tmp_path / "race.sqlite")
    dev = LocalDevice(nb201, TINY, store=st)
    X = nb201.sample(1, seed=9)
    s = nb201.to_str(X)[0]
    real = dev._measure_batch

    def racing(archs):  # another process stores the same key while we measure
        st.put(dev.fingerprint, "local:cpu", "nb201", s, _m(42.0, dev.protocol), "other")
        return real(archs)

    dev._measure_batch = racing
    assert dev.latency_ms(X)[0] == 42.0  # everyone sees the first stored number
    assert st.count() == 1 and dev.measurement_counts() == (1, 0)


def test_ledger_counts_tabular_devices_as_taken(nb201):
    dev = get_device("synthetic:0", nb201)
    ledger = Ledger(nb201, dev, budget=4)
    ledger.measure(nb201.sample(4, seed=0))
    assert (ledger.n_taken, ledger.n_from_store) == (4, 0)


_CHILD = textwrap.dedent(
    """
    import sys
    from moohw.devices.local import LocalDevice
    from moohw.measure import MeasurementStore, Protocol
    from moohw.spaces import NB201Space
    sp = NB201Space()
    X = sp.sample(int(sys.argv[2]), seed=7)
    p = Protocol(warmup=1, rounds=2, min_rounds=2, round_repeats=2, batch_cells=4)
    dev = LocalDevice(sp, p, store=MeasurementStore(sys.argv[1]))
    log = open(sys.argv[3], "a", buffering=1)
    # the log line is written after the store committed the row: every line must survive
    dev.measurements(X, lambda i, s, m, reused: log.write(s + "\\n"))
    """
)


@pytest.mark.parametrize("n", [40, pytest.param(200, marks=pytest.mark.slow)])
def test_sigkill_mid_run_loses_nothing_and_measures_nothing_twice(nb201, tmp_path, n):
    store, log = tmp_path / "k.sqlite", tmp_path / "done.log"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(store), str(n), str(log)])
    deadline = time.time() + 120
    while time.time() < deadline:
        if log.exists() and len(log.read_text().splitlines()) >= n // 4:
            break
        assert child.poll() is None, "child ended before it was killed"
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    logged = set(log.read_text().splitlines())
    st = MeasurementStore(store)
    stored_before = set(st.to_frame()["arch_str"])
    assert logged <= stored_before  # zero lost: every reported measurement is committed
    assert 0 < len(stored_before) < n
    X = nb201.sample(n, seed=7)
    p = Protocol(warmup=1, rounds=2, min_rounds=2, round_repeats=2, batch_cells=4)
    dev = LocalDevice(nb201, p, store=st)
    lat = dev.latency_ms(X)
    assert np.isfinite(lat).all()
    taken, reused = dev.measurement_counts()
    assert reused == len(stored_before) and taken == n - len(stored_before)  # none twice
    assert st.count() == n


def test_export_is_a_csv_device(nb201, tmp_path):
    st = MeasurementStore(tmp_path / "e.sqlite")
    dev = LocalDevice(nb201, TINY, store=st)
    X = nb201.sample(4, seed=5)
    lat = dev.latency_ms(X)
    out = st.export_csv(tmp_path / "export.csv")
    df = pd.read_csv(out)
    assert list(df.columns[:3]) == ["arch_str", "latency_ms", "spread_ms"]
    csv_dev = get_device(f"csv:{out}:latency_ms", nb201)
    assert np.allclose(csv_dev.latency_ms(X), lat)
    # a second fingerprint makes "everything" ambiguous
    LocalDevice(nb201, Protocol(warmup=1, repeats=2), store=st).latency_ms(X[:1])
    with pytest.raises(StoreError, match=r"2 fingerprints.*--fingerprint"):
        st.export_csv(tmp_path / "x.csv")
    st.export_csv(tmp_path / "one.csv", fingerprint=dev.fingerprint)
    assert len(pd.read_csv(tmp_path / "one.csv")) == 4


def test_store_cli_ls_and_export(nb201, tmp_path):
    path = tmp_path / "cli.sqlite"
    runner = CliRunner()
    app = typer.Typer()
    app.add_typer(store_app, name="store")
    r = runner.invoke(app, ["store", "ls", "--store", str(path)])
    assert r.exit_code == 0 and "no measurement store" in r.output
    dev = LocalDevice(nb201, TINY, store=MeasurementStore(path))
    dev.latency_ms(nb201.sample(2, seed=0))
    r = runner.invoke(app, ["store", "ls", "--store", str(path)])
    assert r.exit_code == 0, r.output
    assert dev.fingerprint in r.output and "local:cpu" in r.output
    out = tmp_path / "o.csv"
    r = runner.invoke(app, ["store", "export", "--store", str(path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(out)) == 2
    r = runner.invoke(
        app, ["store", "export", "--store", str(path), "--out", str(out), "--fingerprint", "nope"]
    )
    assert r.exit_code == 2 and "no measurements for fingerprint nope" in r.output
