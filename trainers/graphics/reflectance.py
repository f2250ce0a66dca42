"""The reflectance models, grouped as in TF Graphics' `rendering.reflectance`.

`reflectance.lambertian.brdf(l_in, l_out, n, albedo)` and
`reflectance.phong.brdf(l_in, l_out, n, shininess, albedo)`; see those modules.

Example:
    >>> n = [0.0, 0.0, 1.0]
    >>> lambertian.brdf([0.0, 0.0, -1.0], n, n, [0.5, 0.5, 0.5]).numpy().round(4)
    array([0.1592, 0.1592, 0.1592], dtype=float32)
"""

from cuttingedge.trainers.graphics import lambertian, phong

__all__ = ["lambertian", "phong"]
