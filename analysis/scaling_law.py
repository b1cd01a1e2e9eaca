"""Power-law fit of final test loss against parameter count (Figure 4), per attention kind.

f(n) = a * n^b, fitted by least squares in log-log space (scipy.optimize.curve_fit on
log f = log a + b log n), with standard errors from the covariance. The paper's claim: "to reach
a loss of 2.347 it takes 15.65% fewer parameters with LASER"; `parameter_saving` computes the
same quantity, 1 - n_laser(L) / n_standard(L), with n(L) = (L / a)^(1 / b).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy.optimize import curve_fit


@dataclasses.dataclass(frozen=True)
class PowerLaw:
    a: float
    b: float
    a_err: float  # standard error of a (delta method from log a)
    b_err: float
    points: int

    def __call__(self, n):
        return self.a * np.asarray(n, float) ** self.b

    def params_for(self, loss: float) -> float:
        """Parameter count at which the fit reaches `loss`."""
        return (loss / self.a) ** (1.0 / self.b)


def fit(params, losses) -> PowerLaw:
    """Least-squares power law through (params, losses); needs at least 2 points (3 for errors)."""
    n, y = np.asarray(params, float), np.asarray(losses, float)
    if len(n) < 2 or np.any(n <= 0) or np.any(y <= 0):
        raise ValueError(f"fit: got {len(n)} points; accepted: >= 2 positive (params, loss) pairs")
    line = lambda x, log_a, b: log_a + b * x  # noqa: E731
    (log_a, b), cov = curve_fit(line, np.log(n), np.log(y))
    errs = np.sqrt(np.diag(cov)) if len(n) > 2 and np.all(np.isfinite(cov)) else (math.nan,) * 2
    a = math.exp(log_a)
    return PowerLaw(a=a, b=float(b), a_err=a * float(errs[0]), b_err=float(errs[1]), points=len(n))


def parameter_saving(laser: PowerLaw, standard: PowerLaw, loss: float) -> float:
    """Fraction of parameters LASER saves to reach `loss` (paper: 0.1565 at 2.347)."""
    return 1.0 - laser.params_for(loss) / standard.params_for(loss)
