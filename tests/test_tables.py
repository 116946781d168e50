"""Measured tables that travel: store export (gzip CSV + card) and import resume a campaign."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import typer
from moohw.cli.measure import store_app
from typer.testing import CliRunner

from moohw.data import DataError
from moohw.devices import get_device
from moohw.devices.local import REFERENCE_ARCH, LocalDevice
from moohw.measure import MeasurementStore, Protocol
from moohw.measure.tables import export_table, import_table, meta_path

TINY = Protocol(warmup=1, repeats=3, round_repeats=2, min_rounds=2, rounds=2)


@pytest.fixture(autouse=True)
def _private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MOOHW_STORE", str(tmp_path / "default.sqlite"))


@pytest.fixture(scope="module")
def measured(nb201, tmp_path_factory):
    """A store with 4 cells measured by the drift-robust schedule (so a reference is pinned)."""
    st = MeasurementStore(tmp_path_factory.mktemp("tables") / "a.sqlite")
    dev = LocalDevice(nb201, TINY, store=st)
    X = nb201.sample(4, seed=11)
    lat = dev.latency_ms(X)
    return st, dev, X, lat


def test_meta_path_strips_csv_and_gz(tmp_path):
    assert meta_path(tmp_path / "t.csv.gz") == tmp_path / "t.meta.json"
    assert meta_path(tmp_path / "t.csv") == tmp_path / "t.meta.json"


def test_round_trip_resumes_with_the_same_scale(nb201, tmp_path, measured):
    st, dev, X, lat = measured
    table, card = export_table(st, tmp_path / "t.csv.gz", note="how it was measured")
    assert card is not None and card == tmp_path / "t.meta.json"
    with open(table, "rb") as f:
        assert f.read(2) == b"\x1f\x8b"  # gzip
    meta = json.loads(card.read_text())
    assert meta["rows"] == 4 and meta["note"] == "how it was measured"
    [fp] = meta["fingerprints"]
    assert fp["fingerprint"] == dev.fingerprint and fp["protocol"] == TINY.to_dict()
    [ref] = meta["references_pinned"]
    assert ref["arch_str"] == REFERENCE_ARCH and ref["reference_ms"] > 0

    other = MeasurementStore(tmp_path / "b.sqlite")
    rep = import_table(other, table)
    assert (rep.rows, rep.inserted, rep.kept, rep.fingerprints, rep.references) == (4, 4, 0, 1, 1)
    assert other.get(dev.fingerprint, "nb201", TINY) == st.get(dev.fingerprint, "nb201", TINY)
    # a device on the new store: nothing re-measured, and new batches pinned to the old scale
    again = LocalDevice(nb201, TINY, store=other)
    assert again.fingerprint == dev.fingerprint
    assert np.array_equal(again.latency_ms(X), lat)
    assert again.measurement_counts() == (0, 4)
    assert again._pin(123.0) == pytest.approx(ref["reference_ms"])
    # importing twice changes nothing
    rep2 = import_table(other, table)
    assert (rep2.inserted, rep2.kept, rep2.fingerprints, rep2.references) == (0, 4, 0, 0)
    # the compressed table is a csv: device as it is
    csv_dev = get_device(f"csv:{table}", nb201)
    assert np.allclose(csv_dev.latency_ms(X), lat)


def test_a_store_keeps_its_own_reference(nb201, tmp_path, measured):
    st, dev, _, _ = measured
    table, _ = export_table(st, tmp_path / "t.csv")
    target = MeasurementStore(tmp_path / "c.sqlite")
    target.pin_reference(dev.fingerprint, TINY, REFERENCE_ARCH, 999.0)
    rep = import_table(target, table)
    assert rep.reference_conflicts == 1 and rep.references == 0
    assert target.pin_reference(dev.fingerprint, TINY, REFERENCE_ARCH, 1.0) == 999.0


def test_without_a_card_rows_still_import(nb201, tmp_path, measured):
    st, _, _, _ = measured
    table, card = export_table(st, tmp_path / "t.csv", meta=False)
    assert card is None and not meta_path(table).exists()
    rep = import_table(MeasurementStore(tmp_path / "d.sqlite"), table)
    assert (rep.inserted, rep.fingerprints, rep.references) == (4, 0, 0)


def test_bad_tables_and_cards_are_clear_errors(tmp_path, measured):
    st, _, _, _ = measured
    target = MeasurementStore(tmp_path / "e.sqlite")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"arch_str": ["x"], "latency_ms": [1.0]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="missing columns: fingerprint"):
        import_table(target, bad)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        import_table(target, tmp_path / "nope.csv")
    table, card = export_table(st, tmp_path / "t.csv")
    assert card is not None
    card.write_text(json.dumps({"format": "something else"}))
    with pytest.raises(DataError, match="not a table card"):
        import_table(target, table)
    with pytest.raises(FileNotFoundError, match="card"):
        import_table(target, table, meta=tmp_path / "missing.meta.json")
    neg = pd.read_csv(table)
    neg.loc[0, "latency_ms"] = -1.0
    neg.to_csv(tmp_path / "neg.csv", index=False)
    with pytest.raises(DataError, match="non-positive"):
        import_table(target, tmp_path / "neg.csv")
    assert target.count() == 0  # nothing half-imported


def test_store_cli_export_then_import(tmp_path, measured):
    st, dev, _, _ = measured
    app = typer.Typer()
    app.add_typer(store_app, name="store")
    runner = CliRunner()
    out = tmp_path / "cli.csv.gz"
    r = runner.invoke(app, ["store", "export", "--store", str(st.path), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "cli.meta.json" in r.output
    new = tmp_path / "new.sqlite"
    r = runner.invoke(app, ["store", "import", str(out), "--store", str(new)])
    assert r.exit_code == 0, r.output
    assert "4 new, 0 already stored" in " ".join(r.output.split())
    assert MeasurementStore(new).count(dev.fingerprint) == 4
    r = runner.invoke(app, ["store", "import", str(tmp_path / "none.csv"), "--store", str(new)])
    assert r.exit_code == 2 and "does not exist" in r.output
