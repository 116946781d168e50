"""The persistent proxy cache, progress reports and ``table:PATH`` proxies (issue 17 item 5)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from moohw.cli import app
from typer.testing import CliRunner

import moohw.proxies.cache as cache_mod
from moohw.proxies import get_proxy
from moohw.proxies.batch import user_batch
from moohw.proxies.cache import cache_root, reporting
from moohw.proxies.compute import score_positions
from moohw.proxies.kernels import score_cells
from moohw.proxies.zero_cost import SnipProxy, SynflowProxy, TorchProxy
from moohw.spaces import NB201Space

SPACE = NB201Space()
# Cheap cells (one or no conv) keep the default tier fast.
CHEAP = np.array([[1, 2, 4, 1, 0, 0], [4, 1, 0, 0, 1, 4], [0, 0, 1, 4, 1, 1]])


@pytest.fixture(autouse=True)
def _one_torch_thread():  # type: ignore[no-untyped-def]
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _no_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*a: object, **k: object) -> None:
        raise AssertionError("computed although cached")

    monkeypatch.setattr("moohw.proxies.zero_cost.score_cells", boom)
    monkeypatch.setattr("moohw.proxies.kernels.score_cells", boom)
    monkeypatch.setattr("moohw.proxies.compute.score_cells_many", boom)  # the process-pool path


def test_scores_persist_across_proxy_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    a = SnipProxy(SPACE, "cifar100").score(CHEAP)
    np.testing.assert_array_equal(a, score_cells("snip", CHEAP, "cifar100"))
    files = list(cache_root().glob("*.npy"))  # type: ignore[union-attr]
    v = cache_mod.PROXY_VERSION
    assert [f.name for f in files] == [f"nb201_cifar100_snip_default32_seed0_v{v}.npy"]
    _no_compute(monkeypatch)
    np.testing.assert_array_equal(SnipProxy(SPACE, "cifar100").score(CHEAP[::-1]), a[::-1])


def test_cache_key_separates_seed_batch_dataset_and_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    SnipProxy(SPACE, "cifar100").score(CHEAP[:1])
    SnipProxy(SPACE, "cifar100", seed=1).score(CHEAP[:1])
    SnipProxy(SPACE, "imagenet16").score(CHEAP[:1])
    x = torch.zeros(4, 3, 32, 32)
    x[0, 0, 0, 0] = 1.0
    b1, b2 = user_batch(x, classes=100), user_batch(x + 1, classes=100)
    SnipProxy(SPACE, "cifar100", batch=b1).score(CHEAP[:1])
    SnipProxy(SPACE, "cifar100", batch=b2).score(CHEAP[:1])
    SnipProxy(SPACE, "cifar100", batch=b1).score(CHEAP[:1])  # same digest: no new file
    SynflowProxy(SPACE, "cifar100").score(CHEAP[:1])  # data-free: no batch in the key
    names = sorted(f.name for f in cache_root().glob("*.npy"))  # type: ignore[union-attr]
    assert len(names) == 6, names
    assert f"nb201_cifar100_synflow_nobatch_seed0_v{cache_mod.PROXY_VERSION}.npy" in names
    monkeypatch.setattr(cache_mod, "PROXY_VERSION", "999")
    p = SnipProxy(SPACE, "cifar100")
    assert p.disk is not None and p.disk.path is not None and "_v999" in p.disk.path.name
    assert not p.disk.path.exists()


def test_cache_off_and_unreadable_files(monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # type: ignore[no-untyped-def]
    root = cache_root()
    assert root is not None
    p = SnipProxy(SPACE, "cifar100")
    assert p.disk is not None and p.disk.path is not None
    p.disk.path.parent.mkdir(parents=True, exist_ok=True)
    p.disk.path.write_bytes(b"torn write")
    with caplog.at_level(logging.WARNING, logger="moohw.proxies"):
        s = p.score(CHEAP[:1])
    assert "unreadable proxy cache" in caplog.text
    assert np.isfinite(s).all()
    assert np.load(p.disk.path).shape == (SPACE.size,)  # rewritten whole
    monkeypatch.setenv("MOOHW_CACHE_DIR", "off")
    assert cache_root() is None
    q = SnipProxy(SPACE, "imagenet16")
    q.score(CHEAP[:1])
    assert not list(root.glob("*imagenet16*"))


def test_large_computations_report_progress(monkeypatch: pytest.MonkeyPatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(TorchProxy, "pool_from", 2)
    monkeypatch.setenv("MOOHW_PROXY_WORKERS", "0")
    seen: list[tuple[str, int, int]] = []
    with reporting(lambda d, done, total: seen.append((d, done, total))):
        SnipProxy(SPACE, "cifar100").score(CHEAP)
    assert seen and seen[-1] == ("proxy snip (cifar100)", 3, 3)
    with caplog.at_level(logging.WARNING, logger="moohw.proxies"):
        SnipProxy(SPACE, "imagenet16").score(CHEAP)
    lines = [r.getMessage() for r in caplog.records]
    assert "computing 3 cells once" in lines[0] and str(cache_root()) in lines[0]
    assert lines[-1].startswith("proxy snip (imagenet16): 3/3 cells (100%)")


def test_process_pool_gives_the_in_process_scores() -> None:
    pos = SPACE.position(CHEAP)
    got = dict(
        (int(p), float(v))
        for chunk, vals in score_positions("jacov", pos, "cifar10", None, 0, 2, chunk_size=1)
        for p, v in zip(chunk, vals, strict=True)
    )
    ref = score_cells("jacov", CHEAP, "cifar10")
    assert [got[int(p)] for p in pos] == ref.tolist()


def _fake_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra: tuple[str, ...] = ()
) -> Path:
    # The file plumbing of `moohw proxies compute`, with a cheap stand-in for the torch kernels.
    # zico and jacov share no pass with another proxy, so they go through score_cells.
    def fake(name: str, X: np.ndarray, *a: object, **k: object) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ np.array([1.0, 2, 3, 4, 5, 6]) + len(name)

    monkeypatch.setattr("moohw.proxies.kernels.score_cells", fake)
    out = tmp_path / "t.npz"
    res = CliRunner().invoke(
        app,
        [
            *("proxies", "compute", "--proxies", ",".join(("zico", *extra))),
            *("--out", str(out), "--workers", "0", "--dataset", "cifar10"),
        ],
    )
    assert res.exit_code == 0, res.output
    return out


def test_table_proxy_reads_what_proxies_compute_writes(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = _fake_table(tmp_path, monkeypatch)
    p = get_proxy(f"table:{out}", SPACE)
    np.testing.assert_array_equal(p.score(CHEAP), CHEAP @ np.arange(1.0, 7.0) + 4)
    assert np.array_equal(get_proxy(f"table:{out}:zico", SPACE).score(CHEAP), p.score(CHEAP))
    res = CliRunner().invoke(
        app,
        [
            *("optimize", "--algo", "random", "--device", "synthetic:0", "--budget", "5"),
            *("--proxy", f"table:{out}", "--out", str(tmp_path / "o")),
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "o" / "run.json").read_text())["proxy"] == f"table:{out}:zico"


def test_bad_tables_are_one_line_errors(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    out = _fake_table(tmp_path, monkeypatch, extra=("jacov",))
    with pytest.raises(ValueError, match="holds jacov, zico; choose one"):
        get_proxy(f"table:{out}", SPACE)
    with pytest.raises(KeyError, match="no 'nope'"):
        get_proxy(f"table:{out}:nope", SPACE)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        get_proxy(f"table:{tmp_path}/missing.npz", SPACE)
    with pytest.raises(ValueError, match="is a directory"):
        get_proxy(f"table:{tmp_path}", SPACE)
    v = np.zeros(SPACE.size)
    v[[3, 7]] = np.nan
    np.savez(tmp_path / "nan.npz", snip=v)
    with pytest.raises(
        ValueError, match=r"2 cells without a finite score \(first positions \[3, 7\]"
    ):
        get_proxy(f"table:{tmp_path / 'nan.npz'}", SPACE)
    (tmp_path / "junk.npz").write_text("not a zip")
    with pytest.raises(ValueError, match=r"not an \.npz"):
        get_proxy(f"table:{tmp_path / 'junk.npz'}", SPACE)
    res = CliRunner().invoke(
        app,
        [
            *("proxies", "compute", "--proxies", "snip", "--out", str(tmp_path / "p.npz")),
            *("--workers", "0", "--limit", "3"),
        ],
    )
    assert res.exit_code == 0, res.output
    with pytest.raises(ValueError, match="unfinished partial"):
        get_proxy(f"table:{tmp_path / 'p.partial.npz'}", SPACE)
    res = CliRunner().invoke(
        app, ["optimize", "--device", "synthetic:0", "--proxy", f"table:{tmp_path}/x.npz"]
    )
    assert res.exit_code == 2 and "does not exist" in res.output
    with pytest.raises(KeyError, match=r"table:PATH\[:NAME\]"):
        get_proxy("nosuch", SPACE)
