"""Measurement protocol, local devices and the ``moohw measure`` command."""

from __future__ import annotations

import pickle
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from moohw.cli.measure import measure_cmd
from typer.testing import CliRunner

from moohw.devices import get_device
from moohw.devices.local import LocalDevice, local_name, parse_live_options
from moohw.measure import MeasureError, MeasurementStore, Protocol, summarize
from moohw.measure.timing import measure_model

TINY = Protocol(warmup=1, repeats=5)


@pytest.fixture(autouse=True)
def _private_store(tmp_path, monkeypatch):
    # never touch the user's cache directory
    monkeypatch.setenv("MOOHW_STORE", str(tmp_path / "store.sqlite"))


# --- statistics on known inputs ------------------------------------------------------------


def test_summarize_known_values_without_outliers():
    s = [1.0, 2.0, 3.0, 4.0, 100.0]
    m = summarize(s, Protocol(outlier_k=float("inf")))
    assert m.latency_ms == 3.0
    assert m.spread_ms == 1.0  # |x - 3| = 2, 1, 0, 1, 97 -> median 1
    assert m.iqr_ms == 2.0  # numpy linear quantiles: q1 = 2, q3 = 4
    assert m.mean_ms == 22.0 and m.min_ms == 1.0
    assert m.cv == pytest.approx(np.std(s) / 22.0)
    assert (m.n_kept, m.n_rejected) == (5, 0)


def test_summarize_rejects_outlier_by_modified_z_score():
    s = [1.0, 2.0, 3.0, 4.0, 100.0]
    # modified z of 100: 0.6745 * 97 / 1 = 65.4 > 3.5; of 1.0: 0.6745 * 2 = 1.35 (kept)
    m = summarize(s, Protocol(outlier_k=3.5))
    assert (m.n_kept, m.n_rejected) == (4, 1)
    assert m.latency_ms == 2.5 and m.mean_ms == 2.5 and m.min_ms == 1.0
    assert m.cv == pytest.approx(np.std([1, 2, 3, 4]) / 2.5)
    # a threshold between the two z-scores of 1.0 (1.35) and 4.0 (0.67): rejects 1.0 as well
    m2 = summarize(s, Protocol(outlier_k=1.0))
    assert m2.n_rejected == 2 and m2.latency_ms == 3.0


def test_summarize_zero_mad_keeps_only_the_mode():
    m = summarize([5.0, 5.0, 5.0, 9.0], Protocol())
    assert (m.latency_ms, m.spread_ms, m.cv, m.n_rejected) == (5.0, 0.0, 0.0, 1)


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [-1.0]])
def test_summarize_rejects_bad_samples(bad):
    with pytest.raises(ValueError):
        summarize(bad, Protocol())


@pytest.mark.parametrize(
    "kwargs", [{"repeats": 0}, {"warmup": -1}, {"dtype": "int8"}, {"device": "tpu"}]
)
def test_protocol_validates(kwargs):
    with pytest.raises(ValueError):
        Protocol(**kwargs)


def test_protocol_hash_is_stable_and_field_sensitive():
    assert Protocol().hash == Protocol().hash
    assert Protocol(threads=2).hash != Protocol().hash
    assert Protocol.from_dict(Protocol(outlier_k=float("inf")).to_dict()).outlier_k == np.inf


class _FakeClock:
    """A clock whose consecutive (start, stop) pairs differ by scripted durations."""

    def __init__(self, durations_ms):
        self.times, t = [], 0.0
        for d in durations_ms:
            self.times += [t, t + d / 1e3]
            t += 1.0
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.times[self.calls - 1]


def test_measure_model_times_only_repeats_and_restores_threads():
    calls = []
    model = torch.nn.Linear(4, 2)
    model.register_forward_hook(lambda *a: calls.append(1))
    clock = _FakeClock([2.0, 2.0, 4.0, 2.0, 50.0])
    before = torch.get_num_threads()
    m = measure_model(model, Protocol(warmup=3, repeats=5, threads=1), (4,), clock)
    assert len(calls) == 3 + 5 and clock.calls == 10  # warm-up runs are not timed
    assert m.latency_ms == pytest.approx(2.0) and m.n_rejected == 2  # 4.0 and 50.0 (MAD 0)
    assert torch.get_num_threads() == before


def test_unstable_series_is_timed_again_and_most_stable_kept():
    # series 1: CV of [1, 3, 1, 3] = 0.5 > max_cv; series 2: [2, 2, 2, 2.2] is stable
    clock = _FakeClock([1.0, 3.0, 1.0, 3.0, 2.0, 2.0, 2.0, 2.2, 9.0, 9.0, 9.0, 9.0])
    p = Protocol(warmup=0, repeats=4, outlier_k=float("inf"), max_cv=0.1, attempts=3)
    m = measure_model(torch.nn.Linear(2, 2), p, (2,), clock)
    assert m.n_attempts == 2 and clock.calls == 16  # the third series was never timed
    assert m.latency_ms == pytest.approx(2.0) and m.cv == pytest.approx(
        np.std([2, 2, 2, 2.2]) / 2.05
    )
    # when no series is stable, the one with the lowest CV wins
    clock = _FakeClock([1.0, 3.0, 1.0, 3.0, 1.0, 2.0, 1.0, 2.0])
    m = measure_model(torch.nn.Linear(2, 2), replace(p, attempts=2), (2,), clock)
    assert (m.n_attempts, m.latency_ms) == (2, pytest.approx(1.5))


class _Sleeper(torch.nn.Module):
    def forward(self, x):
        time.sleep(0.01)  # elapsed time without CPU time
        return x


def test_thread_timer_ignores_time_off_cpu_and_wall_timer_sees_it():
    wall = measure_model(_Sleeper(), Protocol(warmup=0, repeats=3, timer="wall"), (2,))
    thread = measure_model(_Sleeper(), Protocol(warmup=0, repeats=3), (2,))  # auto -> thread
    assert wall.latency_ms >= 10.0
    assert thread.latency_ms < 2.0


def test_timer_resolution_and_validation():
    assert Protocol().clock == "thread"
    assert Protocol(threads=2).clock == "wall"
    assert Protocol(device="cuda").clock == "cuda"
    with pytest.raises(ValueError, match="needs device 'cpu' and threads 1"):
        Protocol(timer="thread", threads=2)
    with pytest.raises(ValueError, match="timer must be"):
        Protocol(timer="cycles")


def test_measure_model_cuda_absent_is_clear():
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(MeasureError, match="no CUDA"):
        measure_model(torch.nn.Linear(2, 2), Protocol(device="cuda"), (2,))


# --- device names -------------------------------------------------------------------------


def test_local_names_round_trip():
    target, p, ds = parse_live_options("cpu?batch=8&threads=2&channels_last=1&dataset=cifar100")
    assert (target, p.batch_size, p.threads, p.channels_last, ds) == (
        "cpu",
        8,
        2,
        True,
        "cifar100",
    )
    assert local_name(p, ds) == "local:cpu?batch=8&threads=2&channels_last=1&dataset=cifar100"
    assert local_name(Protocol()) == "local:cpu"


@pytest.mark.parametrize(
    "name, match",
    [
        ("local:cpu?bacth=1", "unknown option 'bacth'.*known: batch"),
        ("local:cpu?batch=x", "batch='x'.*int"),
        ("local:cpu?dtype=int8", "dtype"),
        ("local:tpu", "known: cpu, cuda"),
        ("local:cpu?dataset=mnist", "unknown dataset"),
    ],
)
def test_bad_local_names_fail_clearly(nb201, name, match):
    with pytest.raises(ValueError, match=match):
        get_device(name, nb201)


def test_local_cuda_absent_is_clear(nb201):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(MeasureError, match="local:cuda needs a CUDA device"):
        get_device("local:cuda", nb201)


def test_ray_missing_is_clear(nb201, monkeypatch):
    from moohw.devices.ray_fleet import FleetError

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    dev = get_device("ray:pixel3", nb201)  # names parse without Ray; using one needs it
    with pytest.raises(FleetError, match=r'pip install -e "\.\[ray\]"'):
        dev.latency_ms(nb201.sample(1, seed=0))


@pytest.mark.gpu
def test_local_cuda_measures(nb201):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    dev = get_device("local:cuda?warmup=5&repeats=10", nb201)
    dev.store = None
    lat = dev.latency_ms(np.array([[0] * 6, [3] * 6]))
    assert np.isfinite(lat).all() and (lat > 0).all() and lat[1] > lat[0]


@pytest.mark.gpu
@pytest.mark.parametrize("opts", ["dtype=float16", "cuda_graph=1", "dtype=float16&cuda_graph=1"])
def test_local_cuda_fp16_and_cuda_graphs_measure(nb201, opts):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    fast = "warmup=3&rounds=2&min_rounds=2&round_repeats=3"
    dev = get_device(f"local:cuda?{fast}&{opts}", nb201)
    dev.store = None
    eager = get_device(f"local:cuda?{fast}", nb201)
    assert dev.fingerprint != eager.fingerprint  # precision and graphs are part of the device
    lat = dev.latency_ms(np.array([[0] * 6, [3] * 6]))
    assert np.isfinite(lat).all() and (lat > 0).all() and lat[1] > lat[0]


def test_local_device_needs_nb201(fbnet):
    with pytest.raises(ValueError, match="NB201"):
        get_device("local:cpu", fbnet)


# --- real measurements ----------------------------------------------------------------------


def test_local_cpu_measures_positive_finite_and_is_picklable(nb201, tmp_path):
    dev = LocalDevice(nb201, TINY, store=MeasurementStore(tmp_path / "s.sqlite"))
    X = nb201.sample(3, seed=0)
    lat = dev.latency_ms(X)
    assert lat.shape == (3,) and np.isfinite(lat).all() and (lat > 0).all()
    assert dev.measurement_counts() == (3, 0)
    assert dev.kind == "live" and not dev.exact
    clone = pickle.loads(pickle.dumps(dev))
    assert np.array_equal(clone.latency_ms(X), lat)  # read back from the store
    assert clone.measurement_counts() == (3, 3)  # counters travel with the copy


def test_conv3x3_everywhere_is_slower_than_none_everywhere(nb201):
    # a real measurable fact: 15 cells of six 3x3 convolutions vs cells that compute nothing
    # (measured here ~0.6 ms vs ~10 ms at batch 1, one thread)
    dev = LocalDevice(nb201, Protocol(warmup=2, repeats=7), store=None)
    none, conv = dev.latency_ms(np.array([[0] * 6, [3] * 6]))
    assert conv > 3 * none


def test_different_protocols_have_different_fingerprints(nb201):
    a = get_device("local:cpu", nb201)
    b = get_device("local:cpu?threads=2", nb201)
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == get_device("local:cpu", nb201).fingerprint


# --- the measure command --------------------------------------------------------------------


def _app():
    import typer

    app = typer.Typer()
    app.command("measure")(measure_cmd)
    app.command("noop")(lambda: None)  # keep `measure` a named subcommand
    return app


FAST = "local:cpu?warmup=1&repeats=3"


def test_measure_cli_sample_then_rerun_reuses(tmp_path):
    store, out = tmp_path / "m.sqlite", tmp_path / "m.csv"
    args = ["measure", "--device", FAST, "--sample", "3", "--seed", "1"]
    args += ["--store", str(store), "--out", str(out)]
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 0, r.output
    assert "3 taken, 0 reused" in r.output
    df = pd.read_csv(out)
    assert len(df) == 3 and {"arch_str", "latency_ms", "spread_ms", "cv"} <= set(df.columns)
    assert not df["from_store"].any()
    r = CliRunner().invoke(_app(), args)
    assert r.exit_code == 0 and "0 taken, 3 reused" in r.output
    again = pd.read_csv(out)
    assert again["latency_ms"].tolist() == df["latency_ms"].tolist() and again["from_store"].all()


def test_measure_cli_archs_file(tmp_path, nb201):
    f = tmp_path / "archs.txt"
    f.write_text("\n".join(nb201.to_str(nb201.sample(2, seed=3))) + "\n")
    args = ["measure", "-d", FAST, "--archs", str(f), "--store", str(tmp_path / "s.sqlite")]
    r = CliRunner().invoke(_app(), [*args, "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "o.csv")) == 2


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--sample", "2", "--archs", "x"], "exactly one of"),
        ([], "exactly one of"),
        (["--sample", "0"], "--sample must be >= 1"),
        (["--archs", "missing.txt"], "does not exist"),
        (["--archs", "BAD"], "bad NB201 string"),
        (["--sample", "1", "--device", "synthetic:0"], "needs a live device"),
        (["--sample", "1", "--device", "ray:pixel3"], "add --backend ray"),
        (["--sample", "1", "--backend", "ray"], "measures ray:NAME devices"),
        (["--sample", "1", "--store", "DIR"], "is a directory"),
        (["--sample", "1", "--store", "JUNK"], "file is not a database"),
    ],
)
def test_measure_cli_bad_input_is_one_line(tmp_path, extra, match):
    (tmp_path / "BAD").write_text("|conv_5x5~0|+|none~0|none~1|+|none~0|none~1|none~2|\n")
    (tmp_path / "DIR").mkdir()
    (tmp_path / "JUNK").write_bytes(b"this is not sqlite" * 100)
    extra = [str(tmp_path / e) if e in ("BAD", "DIR", "JUNK", "missing.txt") else e for e in extra]
    dev = [] if "--device" in extra else ["--device", "local:cpu"]
    r = CliRunner().invoke(_app(), ["measure", *dev, "--out", str(tmp_path / "o.csv"), *extra])
    assert r.exit_code == 2
    assert "Traceback" not in r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert pytest.importorskip("re").search(match, r.output), r.output


def test_list_devices_reports_live_rows(nb201):
    from moohw.devices import list_devices

    rows = {r.name: r for r in list_devices(nb201, None)}
    assert rows["local:cpu"].available
    assert rows["local:cuda"].available == torch.cuda.is_available()
    if not torch.cuda.is_available():
        assert rows["local:cuda"].note == "no CUDA here"


def test_archs_csv_with_arch_str_column(tmp_path, nb201):
    from moohw.cli.measure import read_archs

    X = nb201.sample(4, seed=2)
    p = Path(tmp_path / "a.csv")
    pd.DataFrame({"arch_str": nb201.to_str(X), "x": 1}).to_csv(p, index=False)
    assert np.array_equal(read_archs(p, nb201), X)
