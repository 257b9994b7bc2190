"""nnft: field-theory results on deep neural networks, regenerated.

The package is layered; a module imports only from its own layer and the layers above it in this list (core first):

Core
- ``sphere``       geometry of S^{d-1}: sampling, degeneracies, Gegenbauer polynomials, Funk-Hecke spectra
- ``activations``  activations and their Gaussian expectations (closed forms; the one quadrature rule)
- ``model``        the one model description `FCN` (depth, width, activation, per-layer variances, input scaling,
  parametrisation) and its finite networks in JAX: init_params, apply, empirical NNGP / NTK
- ``data``         datasets: inputs on the sphere, targets given per spherical-harmonic degree
- ``store``        xarray/Zarr stores with provenance, written atomically
- ``config``       cross-key checks of an experiment's config beyond its JSON schema

``theory`` (infinite width and its corrections; numbers, no sampling of networks)
- ``kernels``             NNGP / NTK of deep fully connected networks and their spectra (docs/learning_curves.md)
- ``learning_curves``     learning-curve theories (equivalent kernel, renormalised ridge, 1/n, self-consistent) and
  exact GP regression (docs/learning_curves.md)
- ``finite_width``        1/width flows of the prior, criticality, mean-field maps, NTK flow (docs/finite_width.md)
- ``finite_width_bayes``  the networks' posterior to first order in 1/width (docs/finite_width_bayes.md)
- ``adaptive_kernel``     adaptive-kernel (mean-field) theory of finite-width Bayesian networks and its loop
- ``bayes_linear``        exact posterior of deep linear networks at any width

``sampling`` (ensembles of finite networks: prior draws and posterior samplers)
- ``ensembles``   random networks of the finite-width results: exact Gram sampler, full-weight ensembles (metric,
  NTK with a learning-rate tensor), empirical chi_1, and their estimators (docs/finite_width.md)
- ``langevin``    Langevin dynamics of many networks at once (JAX)
- ``metropolis``  Metropolis-adjusted (HMC) reference sampler of the same posterior (BlackJAX)
- ``gibbs``       exact block Gibbs sampler of deep linear networks (docs/finite_width_bayes.md)

``experiments`` (one builder per figure or study: theory beside measurement, returned as labelled Datasets)
- ``finite_width``     figure data F1-F8 of the finite-width and criticality experiments
- ``trainability``     trainability against the depth scale, NTK of random and trained networks (F7, F8)
- ``survey``           double descent, lazy training, depth efficiency (F9; docs/survey.md)
- ``hyperparameters``  theory-driven hyper-parameter selection, checked by exact GP and trained networks

``plots`` (the figures, one module per family: they draw what the figure scripts computed and import no other
nnft module)
- ``style``  helpers shared by the families
- ``learning_curves``, ``spectra``, ``finite_width`` (F1-F8), ``finite_width_bayes``, ``hyperparameters``,
  ``survey`` (F9)
"""

__version__ = "0.1.0"

import os as _os

# XLA:CPU (jaxlib 0.10.2) can deadlock executing a program whose independent operations its concurrency-optimised
# scheduler runs side by side: every thread waits, nothing runs, forever. Measured on the collapsed_readout sampler's
# evaluation block (4 chains, n = 64, width 256): 3 of 5 runs hung, 0 of 5 with the scheduler off. The flag did not
# stop jaxlib 0.10.0-0.10.2 deadlocking in the collapsed curvature's power iteration at >= 56 chains, so the pinned
# environment holds jaxlib 0.9.2 (docs/finite_width_bayes.md Sec. 5b); the flag stays, harmless there. It must be
# set before JAX starts its backend (the first computation), which importing nnft precedes.
_FLAG = "--xla_cpu_enable_concurrency_optimized_scheduler=false"
if "xla_cpu_enable_concurrency_optimized_scheduler" not in _os.environ.get("XLA_FLAGS", ""):
    _os.environ["XLA_FLAGS"] = f"{_os.environ.get('XLA_FLAGS', '')} {_FLAG}".strip()
