import pickle

import numpy as np
import pandas as pd
import pytest

from moohw.devices import LatencyBatch, NotCoveredError, get_device, list_devices
from moohw.devices.synthetic import truncated_normal

NEEDS_DATA = ["help:pixel3", "help:fpga", "hwnasbench:edgegpu", "hwnasbench:edgetpu"]
NO_DATA = ["synthetic:0", "synthetic:7"]


@pytest.fixture(params=NO_DATA + NEEDS_DATA)
def device(request, nb201):
    if request.param in NEEDS_DATA:
        data = request.getfixturevalue("data")
        return get_device(request.param, nb201, data)
    return get_device(request.param, nb201)


def test_device_contract(device, nb201):
    cov = device.coverage()
    X = (nb201.enumerate() if cov is None else cov)[::97]
    X_before = X.copy()
    lat = device.latency_ms(X)
    assert lat.shape == (len(X),) and np.isfinite(lat).all() and (lat >= 0).all()
    assert np.array_equal(X, X_before)  # input not mutated
    assert np.array_equal(device.latency_ms(X), lat)  # deterministic
    assert device.covers(X).all()
    clone = pickle.loads(pickle.dumps(device))
    assert np.array_equal(clone.latency_ms(X), lat)
    assert device.describe()["name"] == device.name


def test_tabular_values_come_from_official_index(data, nb201):
    dev = get_device("help:pixel3", nb201, data)
    df = data.table("nb201/latency_help.csv")
    idx = data.nb201_index()
    rows = df.sample(20, random_state=0)
    lat = dev.latency_ms(idx.to_archs(rows["index"].to_numpy()))
    assert np.allclose(lat, rows["pixel3"].to_numpy())


def test_partial_table_restricts_coverage(data, nb201):
    dev = get_device("hwnasbench:edgegpu", nb201, data)
    cov = dev.coverage()
    assert cov is not None and 12_000 < len(cov) < 15_625
    missing = nb201.enumerate()[~dev.covers(nb201.enumerate())][:1]
    with pytest.raises(NotCoveredError, match="no latency"):
        dev.latency_ms(missing)


def test_fbnet_tabular(data, fbnet):
    dev = get_device("help:pixel3", fbnet, data)
    cov = dev.coverage()
    assert cov.shape == (5000, 22)
    df = data.table("fbnet/latency_help.csv")
    assert np.isclose(dev.latency_ms(cov[:1])[0], df.sort_values("index")["pixel3"].iloc[0])


def test_unknown_names_list_known(nb201, data):
    with pytest.raises(KeyError, match=r"known: csv, help, hwnasbench, .*synthetic"):
        get_device("phone:x", nb201, data)
    with pytest.raises(KeyError, match="kind:argument"):
        get_device("pixel3", nb201, data)
    with pytest.raises(KeyError, match="known: 1080ti_1"):
        get_device("help:pixel99", nb201, data)
    with pytest.raises(FileNotFoundError, match="--data"):
        get_device("help:pixel3", nb201, None)


def test_csv_device_by_arch_str_and_index(tmp_path, nb201, data):
    X = nb201.sample(30, seed=1)
    lat = np.arange(30, dtype=float) + 1
    p = tmp_path / "lat.csv"
    pd.DataFrame({"arch_str": nb201.to_str(X), "latency_ms": lat, "energy": lat * 2}).to_csv(
        p, index=False
    )
    dev = get_device(f"csv:{p}", nb201)
    assert np.array_equal(dev.latency_ms(X), lat)
    assert np.array_equal(get_device(f"csv:{p}:energy", nb201).latency_ms(X), 2 * lat)
    other = nb201.sample(200, seed=2)
    other = other[~dev.covers(other)][:1]
    with pytest.raises(NotCoveredError):
        dev.latency_ms(other)
    q = tmp_path / "by_index.csv"
    pd.DataFrame({"index": [0, 1], "ms": [3.0, 4.0]}).to_csv(q, index=False)
    devq = get_device(f"csv:{q}", nb201, data)
    assert devq.latency_ms(data.nb201_index().to_archs([1]))[0] == 4.0


@pytest.mark.parametrize(
    "content,match",
    [("a,b\n1,2\n", "arch_str"), ("arch_str,x,y\n|a|,1,2\n", "name the latency column")],
)
def test_csv_device_bad_tables(tmp_path, nb201, content, match):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    with pytest.raises(ValueError, match=match):
        get_device(f"csv:{p}", nb201)
    with pytest.raises(FileNotFoundError):
        get_device(f"csv:{tmp_path}/nope.csv", nb201)


def test_synthetic_seeds_differ_and_fbnet_works(nb201, fbnet):
    X = nb201.sample(100, seed=0)
    a, b = get_device("synthetic:1", nb201), get_device("synthetic:2", nb201)
    assert not np.allclose(a.latency_ms(X), b.latency_ms(X))
    assert np.array_equal(a.latency_ms(X), get_device("synthetic:1", nb201).latency_ms(X))
    assert get_device("synthetic:0", fbnet).latency_ms(fbnet.sample(5, seed=0)).shape == (5,)
    with pytest.raises(ValueError, match="integer seed"):
        get_device("synthetic:x", nb201)


def test_truncated_normal_uses_standardised_bounds():
    # Regression for the Sim-is-More flaw: absolute bounds passed as standardised ones put every
    # sample above the mean. With correct bounds about half fall below it.
    rng = np.random.default_rng(0)
    s = truncated_normal(np.full(4000, 1.0), np.full(4000, 0.5), 0.0, 4.0, rng)
    assert 0.4 < (s < 1.0).mean() < 0.6
    assert s.min() >= 0.0 and s.max() <= 4.0


def test_list_devices_explains_unavailable(nb201):
    rows = list_devices(nb201, None)
    help_row = next(r for r in rows if r.name.startswith("help:"))
    assert not help_row.available and "data" in help_row.note
    assert any(r.name.startswith("synthetic") and r.available for r in rows)


def test_predicted_device_reads_a_surrogate_folder(tmp_path, nb201):
    X = nb201.sample(12, seed=4)
    pd.DataFrame({"arch_str": nb201.to_str(X), "latency_ms": np.arange(12.0) + 1}).to_csv(
        tmp_path / "predictions.csv", index=False
    )
    dev = get_device(f"predicted:{tmp_path}", nb201)
    assert dev.kind == "predicted" and dev.fidelity == "predicted"
    assert np.array_equal(dev.latency_ms(X), np.arange(12.0) + 1)
    with pytest.raises(FileNotFoundError, match="surrogate build"):
        get_device(f"predicted:{tmp_path / 'nope'}", nb201)


def test_latency_batch_is_frozen_and_read_only():
    b = LatencyBatch([1.0, 2.0], [0.1, 0.0], [0.5, 0.0], "target", [False, True])
    assert (b.n_taken, b.n_from_store, len(b)) == (1, 1, 2)
    with pytest.raises(ValueError, match="read-only"):
        b.latency_ms[0] = 9.0
    with pytest.raises(AttributeError):
        b.fidelity = "low"  # type: ignore[misc]
    src = np.array([1.0, 2.0])
    c = LatencyBatch(src, np.zeros(2), np.ones(2), "target", np.zeros(2, bool))
    src[0] = 5.0  # a private copy: the producer cannot change a finished batch
    assert c.latency_ms[0] == 1.0
    with pytest.raises(ValueError, match="spread_ms must be"):
        LatencyBatch([1.0, 2.0], [0.1], [0.5, 0.0], "target", [False, False])


def test_device_query_matches_latency_and_carries_cost(nb201):
    dev = get_device("synthetic:4", nb201)
    X = nb201.sample(7, seed=2)
    b = dev.query(X)
    assert np.array_equal(b.latency_ms, dev.latency_ms(X))
    assert np.array_equal(b.cost_s, np.full(7, dev.cost_s)) and b.fidelity == dev.fidelity
    assert not b.from_store.any() and not b.spread_ms.any()


def test_live_query_reports_spread_cost_and_store_hits(nb201, tmp_path):
    from moohw.devices.local import LocalDevice
    from moohw.measure import MeasurementStore, Protocol

    X = nb201.sample(2, seed=8)
    store = MeasurementStore(tmp_path / "s.sqlite")
    first = LocalDevice(nb201, Protocol(warmup=1, repeats=3), store=store).query(X)
    assert not first.from_store.any() and (first.cost_s > 0).all() and (first.spread_ms >= 0).all()
    again = LocalDevice(nb201, Protocol(warmup=1, repeats=3), store=store).query(X)
    assert again.from_store.all() and not again.cost_s.any()  # nothing measured, nothing spent
    assert np.array_equal(again.latency_ms, first.latency_ms)
    assert np.array_equal(again.spread_ms, first.spread_ms)
