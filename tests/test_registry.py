import pytest

from moohw.registry import Registry, UnknownNameError


def test_duplicate_and_unknown_names():
    r: Registry[int] = Registry("widget")
    r.register("b", "bee")(lambda: 2)
    r.register("a")(lambda: 1)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a")(lambda: 3)
    with pytest.raises(UnknownNameError, match="unknown widget 'c'; known: a, b"):
        r.get("c")
    assert r.names() == ["a", "b"] and r.get("b")() == 2 and r.help("b") == "bee"
