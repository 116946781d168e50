"""Shared fixtures: the benchmark data folder (tests needing it skip with a reason when absent)."""

from __future__ import annotations

import pytest

from moohw.data import BenchmarkData, try_open_data
from moohw.spaces import FBNetSpace, NB201Space


@pytest.fixture(scope="session")
def data() -> BenchmarkData:
    d = try_open_data()
    if d is None:
        pytest.skip("benchmark data not found (set MOOHW_DATA or provide ../shared/data)")
    return d


@pytest.fixture(scope="session")
def nb201() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="session")
def fbnet() -> FBNetSpace:
    return FBNetSpace()


@pytest.fixture(autouse=True)
def _private_proxy_cache(tmp_path_factory, monkeypatch):  # type: ignore[no-untyped-def]
    # Each test gets an empty persistent proxy cache, never the user's (~/.cache/moohw).
    monkeypatch.setenv("MOOHW_CACHE_DIR", str(tmp_path_factory.mktemp("proxy-cache")))
