import hashlib

import pytest

from moohw.data import BenchmarkData, DataError, find_data_dir, open_data


def _folder(tmp_path, content=b"index,x\n0,1\n", listed_hash=None):
    (tmp_path / "nb201").mkdir()
    (tmp_path / "nb201" / "t.csv").write_bytes(content)
    h = listed_hash or hashlib.sha256(content).hexdigest()
    (tmp_path / "MANIFEST.tsv").write_text(
        f"path\tbytes\tsha256\nnb201/t.csv\t{len(content)}\t{h}\n"
    )
    return tmp_path


def test_verified_table_loads(tmp_path):
    d = BenchmarkData(_folder(tmp_path))
    assert d.table("nb201/t.csv")["x"].tolist() == [1]


def test_corrupt_file_names_path_and_expectation(tmp_path):
    d = BenchmarkData(_folder(tmp_path, listed_hash="0" * 64))
    with pytest.raises(DataError, match=r"t\.csv is corrupt.*expected 000000000000"):
        d.table("nb201/t.csv")


def test_missing_column(tmp_path):
    d = BenchmarkData(_folder(tmp_path))
    with pytest.raises(DataError, match="lacks columns"):
        d.table("nb201/t.csv", ("latency_ms",))


def test_missing_file_names_path(tmp_path):
    d = BenchmarkData(_folder(tmp_path))
    (tmp_path / "nb201" / "t.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"t\.csv is missing"):
        d.path("nb201/t.csv")


def test_lookup_order_env_and_explicit(tmp_path, monkeypatch):
    root = _folder(tmp_path)
    monkeypatch.setenv("MOOHW_DATA", str(root))
    monkeypatch.chdir(tmp_path)  # no ../shared/data here
    assert find_data_dir() == root.resolve()
    with pytest.raises(FileNotFoundError, match="no MANIFEST"):
        find_data_dir(tmp_path / "nowhere")
    monkeypatch.delenv("MOOHW_DATA")
    assert find_data_dir() is None
    with pytest.raises(FileNotFoundError, match="MOOHW_DATA"):
        open_data()


def test_shared_data_manifest_verifies(data):
    for rel in ("nb201/archs.csv", "nb201/latency_help.csv", "nb201/accuracy.csv"):
        assert data.path(rel).is_file()
