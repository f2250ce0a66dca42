"""The parts of TF Graphics the project needs, for TF 2.16, with TF Graphics' conventions.

Geometry: `rotation_matrix_3d`, `quaternion` ((x, y, z, w), w last), `euler`, `axis_angle`.
Cameras: `perspective`, `orthographic`. Reflectance: `lambertian`, `phong` (both also as
`reflectance.lambertian` / `reflectance.phong`). Sampling: `bilinear`. Logo augmentation:
`render` (`RenderConfig`, `random_render`), with the scene description in `scene`.
All functions are pure TensorFlow, batched over leading dimensions and differentiable.
"""
