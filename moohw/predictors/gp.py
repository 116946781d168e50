"""Gaussian-process latency predictors (BoTorch) with a categorical kernel on op ids.

``gp``: a :class:`botorch.models.SingleTaskGP` on the ``k`` target samples only, with a scaled
:class:`~botorch.models.kernels.categorical.CategoricalKernel` (ARD, one lengthscale per variable:
``k(x, x') = exp(-mean_i [x_i != x'_i] / l_i)``) over the op ids; the outcome is log latency,
standardised. Predictions are ``exp`` of the posterior mean (the median in ms).

A multi-task variant (``MultiTaskGP`` over the target and its most correlated knowledge devices)
was tried and left out: with 40-80 training points one fit took over 30 s on the shared 2-core
machine, and gpytorch's index kernel initialises its factor from the global torch RNG.

Hyper-parameters are fitted from their deterministic initial values with a single L-BFGS attempt
(``max_attempts=1``), so no global torch randomness is touched.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from moohw.predictors.base import Knowledge, LatencyPredictor, torch_single_thread
from moohw.rng import SeedLike


def _fit_mll(model: torch.nn.Module) -> None:
    from botorch.fit import fit_gpytorch_mll
    from gpytorch.mlls import ExactMarginalLogLikelihood

    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # small-data optimisation warnings are expected
        try:
            fit_gpytorch_mll(mll, max_attempts=1)
        except Exception:
            pass
    model.eval()


def _posterior_mean(model: torch.nn.Module, X: np.ndarray) -> np.ndarray:
    """Posterior mean ``(n,)`` in chunks, skipping the (n, n) posterior covariance."""
    from gpytorch.settings import skip_posterior_variances

    out = np.empty(len(X))
    with torch.no_grad(), skip_posterior_variances(), torch_single_thread():
        for a in range(0, len(X), 2048):
            tx = torch.as_tensor(X[a : a + 2048], dtype=torch.float64)
            out[a : a + 2048] = model.posterior(tx).mean.squeeze(-1).numpy()  # type: ignore[operator]
    return out


def _kernel(n_var: int):  # type: ignore[no-untyped-def]
    from botorch.models.kernels.categorical import CategoricalKernel
    from gpytorch.kernels import ScaleKernel

    return ScaleKernel(CategoricalKernel(ard_num_dims=n_var))


class CategoricalGP(LatencyPredictor):
    """``SingleTaskGP`` with a categorical kernel on the target samples (log latency).

    Args:
        space: Search space.
    """

    name = "gp"

    def _fit(self, knowledge: Knowledge, X: np.ndarray, y_ms: np.ndarray, seed: SeedLike) -> None:
        with torch_single_thread():
            self._fit_impl(X, y_ms)

    def _fit_impl(self, X: np.ndarray, y_ms: np.ndarray) -> None:
        from botorch.models import SingleTaskGP
        from botorch.models.transforms.outcome import Standardize

        tx = torch.as_tensor(X, dtype=torch.float64)
        ty = torch.as_tensor(np.log(np.maximum(y_ms, 1e-9)), dtype=torch.float64)[:, None]
        self.model_ = SingleTaskGP(
            tx, ty, covar_module=_kernel(self.space.n_var), outcome_transform=Standardize(m=1)
        )
        _fit_mll(self.model_)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.exp(_posterior_mean(self.model_, X))
