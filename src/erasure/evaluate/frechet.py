"""The Fréchet distance between two sets of image features (Heusel et al. 2017, "GANs trained by a two
time-scale update rule", Eq. for FID):

    d² = ||μ₁ − μ₂||² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)

between Gaussians fitted to the features. On sd14 the features are Inception-v3 pool features (FID); on
tiny they are the tiny CLIP's image embeddings, so the tiny number is an FD in another feature space
and is never compared with a paper's FID.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg


def gaussian_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (N, d), in float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need features of shape (N >= 2, d), got {features.shape}")
    return features.mean(0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """d² between N(μ₁, Σ₁) and N(μ₂, Σ₂). A singular product gets a 1e-6 ridge on both covariances
    (as the reference TTUR code does); the square root's negligible imaginary part is dropped."""
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    root, _ = linalg.sqrtm(sigma1 @ sigma2, disp=False)
    if not np.isfinite(root).all():
        ridge = np.eye(len(sigma1)) * 1e-6
        root = linalg.sqrtm((sigma1 + ridge) @ (sigma2 + ridge))
    if np.iscomplexobj(root):
        if not np.allclose(root.imag, 0, atol=1e-3 * max(1.0, np.abs(root).max())):
            raise ValueError(
                f"the covariance product's square root is complex (max |imag| {np.abs(root.imag).max():.3g})"
            )
        root = root.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(root))


def feature_frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """d² between the Gaussians fitted to two feature sets (N_a, d) and (N_b, d)."""
    return frechet_distance(*gaussian_statistics(features_a), *gaussian_statistics(features_b))
