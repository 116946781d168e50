"""Controller checkpoints are data, not code (issue 17 item 9).

The shipped files were converted from pickles (``default.pt`` read with ``weights_only=False``,
``faithful.zip`` read with ``PPO.load``) to tensors + JSON;
``data/controller_checkpoint_outputs.json`` holds what the legacy files computed on fixed
inputs, recorded before the conversion.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from moohw.algorithms.controller.checkpoint import (
    SHIPPED,
    UnsafeCheckpointError,
    build_faithful_ppo,
    load_default,
    load_faithful_model,
)
from moohw.algorithms.controller.faithful import PPO_KWARGS, observation
from moohw.cli import app
from typer.testing import CliRunner

REFERENCE = Path(__file__).with_name("data") / "controller_checkpoint_outputs.json"


def fixed_features() -> torch.Tensor:
    return torch.randn(3, 20, 8, generator=torch.Generator().manual_seed(0))


def fixed_observations() -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(8):
        hist = [
            (rng.integers(0, 5, 6), float(rng.random()), int(rng.integers(0, 30)))
            for _ in range(int(rng.integers(0, 6)))
        ]
        out.append(observation(rng.integers(0, 5, 6), float(rng.random()), hist))
    return out


def policy_outputs(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """Action probabilities ``(8, 30)`` and values ``(8,)`` of a PPO on the fixed observations."""
    probs, vals = [], []
    for o in fixed_observations():
        t, _ = model.policy.obs_to_tensor(o)
        with torch.no_grad():
            probs.append(model.policy.get_distribution(t).distribution.probs[0].numpy())
            vals.append(float(model.policy.predict_values(t)[0, 0]))
    return np.array(probs), np.array(vals)


def test_shipped_checkpoints_compute_what_the_pickled_ones_did() -> None:
    ref = json.loads(REFERENCE.read_text())
    ck = load_default(str(SHIPPED))
    with torch.no_grad():
        scores = ck.policy(fixed_features()).numpy()
    np.testing.assert_allclose(scores, ref["default_scores"], rtol=0, atol=1e-6)
    np.testing.assert_array_equal(ck.latency_prior.mu, ref["mu"])
    np.testing.assert_array_equal(np.diag(ck.latency_prior.cov), ref["cov_diag"])
    assert ck.latency_prior.cov.sum() == pytest.approx(ref["cov_sum"], rel=1e-12)
    probs, vals = policy_outputs(load_faithful_model(str(SHIPPED)))
    np.testing.assert_allclose(probs, ref["faithful_probs"], rtol=0, atol=1e-6)
    np.testing.assert_allclose(vals, ref["faithful_values"], rtol=0, atol=1e-5)
    assert not list(SHIPPED.glob("*.zip"))


def test_shipped_checkpoints_load_with_the_restricted_unpickler() -> None:
    for name in ("default.pt", "faithful.pt"):
        blob = torch.load(SHIPPED / name, weights_only=True)
        assert isinstance(blob["policy"], dict)


class _Probe:
    """Unpickling this runs ``touch MARKER`` (what the fault probe of issue 17 did)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def _crafted_folder(tmp_path: Path, marker: Path) -> Path:
    folder = tmp_path / "crafted"
    shutil.copytree(SHIPPED, folder)
    blob = {"policy": _Probe(marker), "hidden": 32, "mu": _Probe(marker), "cov": 0}
    torch.save(blob, folder / "default.pt")
    torch.save({"policy": _Probe(marker)}, folder / "faithful.pt")
    return folder


def test_crafted_checkpoint_is_refused_and_runs_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    folder = _crafted_folder(tmp_path, marker)
    # The probe is real: the old loader would have run it.
    torch.load(folder / "default.pt", weights_only=False)
    assert marker.exists()
    marker.unlink()
    with pytest.raises(UnsafeCheckpointError, match=r"refused to load .*default\.pt.*system"):
        load_default(str(folder))
    with pytest.raises(UnsafeCheckpointError, match=r"faithful\.pt"):
        load_faithful_model(str(folder))
    assert not marker.exists()

    res = CliRunner().invoke(
        app,
        [
            *("optimize", "--device", "synthetic:0", "--budget", "3"),
            *("-o", f"checkpoint={folder}", "--out", str(tmp_path / "o")),
        ],
    )
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "refused to load" in lines[0], res.output
    assert not marker.exists()
    assert not (tmp_path / "o" / "run.json").exists()


def test_plain_pickle_and_legacy_zip_are_refused(tmp_path: Path) -> None:
    import pickle

    marker = tmp_path / "pwned"
    folder = _crafted_folder(tmp_path, marker)
    with open(folder / "default.pt", "wb") as fh:  # not torch's zip format: a bare pickle
        pickle.dump({"policy": _Probe(marker)}, fh, protocol=2)
    with pytest.raises(UnsafeCheckpointError):
        load_default(str(folder))
    (folder / "faithful.pt").unlink()
    (folder / "faithful.zip").write_bytes(b"PK\x03\x04 not even read")
    with pytest.raises(UnsafeCheckpointError, match=r"faithful\.zip.*convert_legacy"):
        load_faithful_model(str(folder))
    assert not marker.exists()


def test_malformed_checkpoints_are_one_line_errors(tmp_path: Path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(SHIPPED, folder)
    torch.save({"policy": {}, "hidden": 32}, folder / "default.pt")
    with pytest.raises(ValueError, match="expected a dict with keys"):
        load_default(str(folder))
    torch.save(
        {"policy": {"x": torch.zeros(1)}, "hidden": 32, "mu": 0, "cov": 0}, folder / "default.pt"
    )
    with pytest.raises(ValueError, match=r"malformed checkpoint .*default\.pt"):
        load_default(str(folder))
    (folder / "default.pt").write_bytes(b"garbage")
    with pytest.raises(UnsafeCheckpointError):
        load_default(str(folder))


def _convert_legacy() -> Any:
    """``convert_legacy`` of the repository script (not part of the installed package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tools" / "convert_legacy.py"
    spec = importlib.util.spec_from_file_location("moohw_tools_convert_legacy", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.convert_legacy


def test_convert_legacy_keeps_the_outputs(tmp_path: Path) -> None:
    convert_legacy = _convert_legacy()
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    ck = load_default(str(SHIPPED))
    torch.save(  # the 0.1 layout: numpy arrays need the full unpickler
        {
            "policy": ck.policy.state_dict(),
            "hidden": ck.policy.head.in_features,
            "mu": ck.latency_prior.mu,
            "cov": ck.latency_prior.cov,
        },
        legacy / "default.pt",
    )
    model = build_faithful_ppo(PPO_KWARGS)
    model.save(str(legacy / "faithful.zip"))
    for name in ("prior.json", "default.json", "faithful.json"):
        shutil.copy(SHIPPED / name, legacy / name)
    with pytest.raises(UnsafeCheckpointError):
        load_default(str(legacy))
    out = tmp_path / "converted"
    assert {p.name for p in convert_legacy(legacy, out)} == {"default.pt", "faithful.pt"}
    new = load_default(str(out))
    with torch.no_grad():
        a, b = ck.policy(fixed_features()), new.policy(fixed_features())
    assert torch.equal(a, b)
    np.testing.assert_array_equal(new.latency_prior.cov, ck.latency_prior.cov)
    pa, va = policy_outputs(model)
    pb, vb = policy_outputs(load_faithful_model(str(out)))
    np.testing.assert_array_equal(pa, pb)
    np.testing.assert_array_equal(va, vb)


def test_loading_the_faithful_model_leaves_the_global_rng_alone(tmp_path: Path) -> None:
    shutil.copytree(SHIPPED, tmp_path / "ck")
    state = torch.random.get_rng_state()
    load_faithful_model(str(tmp_path / "ck"))
    assert torch.equal(state, torch.random.get_rng_state())
