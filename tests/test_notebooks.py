"""The notebooks: committed clean, and each one executes end to end (``pytest -m notebooks``).

Execution runs every notebook in a fresh kernel with ``SMOKE_TEST=1`` (unless set otherwise) and
a temporary measurement store. The notebooks check their own results with ``assert`` cells, so a
notebook that runs is a notebook whose numbers passed; this test also requires that each one
drew its figures.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

NB_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("*.ipynb"))
#: Notebooks that need an API that may not be there yet: module, attribute.
REQUIRES = {"05_controller.ipynb": ("moohw.algorithms.controller", "pretrain")}

nbformat = pytest.importorskip("nbformat")


def test_notebooks_exist_and_are_clean():
    names = [p.name for p in NOTEBOOKS]
    assert names[:2] == ["01_quickstart.ipynb", "02_fronts_across_devices.ipynb"], names
    assert len(names) >= 5
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code, path.name
        assert all(not c.outputs and c.execution_count is None for c in code), (
            f"{path.name} is saved with outputs; clear them before committing"
        )
        src = "\n".join(c.source for c in code)
        assert "SMOKE_TEST" in src and "try_open_data" in src, path.name


def _missing(path: Path) -> str | None:
    module, attr = REQUIRES.get(path.name, (None, None))
    if module is None:
        return None
    try:
        ok = hasattr(importlib.import_module(module), str(attr))
    except ImportError:
        ok = False
    return None if ok else f"{module}.{attr} is not available yet"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, tmp_path, monkeypatch):
    nbclient = pytest.importorskip("nbclient")
    reason = _missing(path)
    if reason:
        pytest.skip(reason)
    monkeypatch.setenv("SMOKE_TEST", os.environ.get("SMOKE_TEST", "1"))
    monkeypatch.setenv("MOOHW_STORE", str(tmp_path / "store.sqlite"))  # never the user's store
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1"))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NB_DIR)}}
    )
    client.execute()  # raises CellExecutionError with the failing cell and traceback
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{path.name} drew no figure"
