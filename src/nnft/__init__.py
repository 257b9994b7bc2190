"""nnft: field-theory results on deep neural networks, regenerated.

Modules (one concept each):

- ``sphere``      geometry of S^{d-1}: sampling, degeneracies, Gegenbauer polynomials, Funk-Hecke spectra
- ``kernels``     NNGP / NTK of deep fully connected networks (infinite width)
- ``data``        datasets: inputs on the sphere, targets given per spherical-harmonic degree
- ``learning_curves``  learning-curve theory (equivalent kernel) and exact GP regression
- ``activations`` activations and their Gaussian expectations (closed forms, Gauss-Hermite)
- ``networks``    finite networks in JAX (same description as the kernels), empirical NNGP / NTK
- ``langevin``    ensembles of finite networks sampled with Langevin dynamics (JAX)
- ``store``       xarray/Zarr stores with provenance, written atomically
- ``plots``       figures
"""

__version__ = "0.1.0"
