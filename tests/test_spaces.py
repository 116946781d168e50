import numpy as np
import pytest

from moohw.spaces import SPACES, BenchmarkIndex, get_space


@pytest.mark.parametrize("name", SPACES.names())
def test_space_contract(name):
    s = get_space(name)
    X = s.sample(50, seed=3)
    assert X.shape == (50, s.n_var) and X.dtype == np.int64
    assert len({r.tobytes() for r in X}) == 50  # unique by default
    assert np.array_equal(s.from_str(s.to_str(X)), X)
    assert np.array_equal(s.sample(50, seed=3), X)  # deterministic for a seed
    assert not np.array_equal(s.sample(50, seed=4), X)
    with pytest.raises(ValueError, match="out of range"):
        s.validate(np.full((1, s.n_var), 99))
    with pytest.raises(ValueError, match="shape"):
        s.validate(np.zeros((2, s.n_var + 1), dtype=int))
    with pytest.raises(ValueError):
        s.from_str(["not an architecture"])


def test_nb201_enumerate_and_positions(nb201):
    X = nb201.enumerate()
    assert X.shape == (15_625, 6) and nb201.size == 15_625
    assert len({r.tobytes() for r in X}) == 15_625
    assert np.array_equal(nb201.position(X), np.arange(15_625))
    assert np.array_equal(nb201.from_position(np.arange(15_625)), X)
    assert np.array_equal(nb201.from_str(nb201.to_str(X)), X)


def test_nb201_string_format(nb201):
    s = (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|"
        "+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )
    x = nb201.from_str([s])
    assert x.tolist() == [[4, 2, 1, 2, 1, 1]]
    assert nb201.to_str(x) == [s]
    with pytest.raises(ValueError, match="expected"):
        nb201.from_str(["|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|"])
    with pytest.raises(ValueError, match="expected"):  # wrong input node id
        nb201.from_str(["|none~1|+|none~0|none~1|+|none~0|none~1|none~2|"])


def test_benchmark_index_uses_arch_strings_not_arithmetic(data, nb201):
    idx = data.nb201_index()
    # The data README documents index 0; the mixed-radix position of that cell is not 0.
    x0 = idx.to_archs([0])
    assert nb201.to_str(x0)[0] == (
        "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
    )
    assert nb201.position(x0)[0] != 0
    all_idx = idx.to_index(nb201.enumerate())
    assert sorted(all_idx.tolist()) == list(range(15_625))
    assert np.array_equal(idx.to_archs(all_idx), nb201.enumerate())
    with pytest.raises(ValueError, match="out of range"):
        idx.to_archs([15_625])


def test_benchmark_index_unknown_arch_raises(nb201):
    X = nb201.sample(3, seed=0)
    idx = BenchmarkIndex(nb201, nb201.to_str(X[:2]))
    assert idx.contains(X).tolist() == [True, True, False]
    with pytest.raises(KeyError, match="not in the benchmark"):
        idx.to_index(X)


def test_fbnet_index_matches_table(data, fbnet):
    idx = data.fbnet_index()
    df = data.table("fbnet/archs.csv")
    assert len(idx) == 5000
    assert np.array_equal(idx.to_archs([0])[0], df.iloc[0][[f"layer{i}" for i in range(22)]])


def test_sample_without_replacement_exhausts_small_request(nb201):
    with pytest.raises(ValueError, match="unique"):
        nb201.sample(15_626, seed=0)
