"""How far an estimated blur kernel is from a known one."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ops.kernels import centre_of_mass, fit_kernel_size, shift_kernel


@dataclass(frozen=True)
class KernelError:
    """Errors after both kernels are normalised to sum 1 and centred (DualSR's kernel_shift, x2)."""

    l2: float  # Frobenius norm of the difference
    mse: float  # mean squared difference per tap
    estimated_sum: float  # raw sum of the estimate before normalisation
    estimated_centre: tuple[float, float]

    def as_dict(self) -> dict:
        return {
            "l2": self.l2,
            "mse": self.mse,
            "estimated_sum": self.estimated_sum,
            "estimated_centre": list(self.estimated_centre),
        }


def aligned_kernel(kernel: np.ndarray, size: int, scale: int = 2) -> np.ndarray:
    """Pad/crop to ``size``, normalise to sum 1 and move the centre of mass to MATLAB alignment."""
    fitted = fit_kernel_size(kernel, size)
    fitted = fitted / fitted.sum()
    shifted = shift_kernel(fitted, scale)
    return shifted / shifted.sum()


def kernel_error(estimated: np.ndarray, truth: np.ndarray, *, scale: int = 2) -> KernelError:
    estimated = np.asarray(estimated, dtype=np.float64)
    size = max(estimated.shape[0], np.asarray(truth).shape[0])
    est = aligned_kernel(estimated, size, scale)
    gt = aligned_kernel(truth, size, scale)
    diff = est - gt
    return KernelError(
        l2=float(np.sqrt((diff**2).sum())),
        mse=float((diff**2).mean()),
        estimated_sum=float(estimated.sum()),
        estimated_centre=centre_of_mass(estimated),
    )
