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
    with pytest.raises(FileNotFoundError, match="nowhere does not exist"):
        find_data_dir(tmp_path / "nowhere")
    monkeypatch.delenv("MOOHW_DATA")
    assert find_data_dir() is None
    with pytest.raises(FileNotFoundError, match="MOOHW_DATA"):
        open_data()


def test_data_folder_the_user_named_is_never_skipped(tmp_path, monkeypatch):
    # issue 17: --data /nonexistent said "has no MANIFEST.tsv"; an empty MOOHW_DATA folder fell
    # back to ../shared/data or said "set MOOHW_DATA" although it was set
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty").mkdir()
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"f\.txt is a file, not a folder"):
        find_data_dir(tmp_path / "f.txt")
    with pytest.raises(FileNotFoundError, match=r"empty is a folder without MANIFEST\.tsv"):
        find_data_dir(tmp_path / "empty")
    monkeypatch.setenv("MOOHW_DATA", str(tmp_path / "empty"))
    with pytest.raises(FileNotFoundError, match=r"^MOOHW_DATA .*empty is a folder without"):
        find_data_dir()
    monkeypatch.setenv("MOOHW_DATA", "")  # an empty value means unset (CI's smoke run)
    assert find_data_dir() is None
    (tmp_path / "d").mkdir()
    root = _folder(tmp_path / "d")
    digest = BenchmarkData(root).manifest_digest()
    assert len(digest) == 64 and digest == BenchmarkData(root).manifest_digest()


def test_shared_data_manifest_verifies(data):
    for rel in ("nb201/archs.csv", "nb201/latency_help.csv", "nb201/accuracy.csv"):
        assert data.path(rel).is_file()


def test_data_check_tells_corrupt_tables_from_changed_docs(tmp_path):
    from moohw.datacheck import check_data

    root = _folder(tmp_path)
    (root / "README.md").write_text("edited\n")
    orig = hashlib.sha256(b"orig\n").hexdigest()
    with open(root / "MANIFEST.tsv", "a") as fh:
        fh.write(f"README.md\t5\t{orig}\n")
        fh.write(f"nb201/archs.csv\t3\t{'0' * 64}\n")
    where, rows = check_data(root)
    by = {r.path: r for r in rows}
    assert where == root.resolve()
    assert by["nb201/t.csv"].status == "verified"
    assert by["README.md"].status == "warning" and "documentation" in by["README.md"].detail
    assert by["nb201/archs.csv"].status == "missing"
    assert "every nb201 table" in by["nb201/archs.csv"].enables
    (root / "nb201" / "t.csv").write_bytes(b"index,x\n0,2\n")
    assert {r.path: r.status for r in check_data(root)[1]}["nb201/t.csv"] == "corrupt"
