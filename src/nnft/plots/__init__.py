"""Figures: draw labelled results (stores, or summaries the scripts compute with the library); compute nothing.

One module per figure family. This package imports none of them, and they import no other nnft module (only
matplotlib, numpy, xarray and each other), so a figure script that imports one family depends (code_version) on
that family alone, with what it imports:

- ``style``               drawing helpers shared by the families: width colours, Monte Carlo points, cell edges,
  plain log ticks
- ``learning_curves``     networks vs exact GP, learning curves, mode errors, width convergence, Langevin
  diagnostics, Cohen, Malka & Ringel's Fig. 1
- ``spectra``             share of prior variance per spherical-harmonic degree
- ``finite_width``        F1-F8: kernel flow, kurtosis, kernel shift, two-input correlation, phase diagram, depth
  scales, trainability, NTK
- ``finite_width_bayes``  the networks' gap to the exact GP against 1/width beside the finite-width theories
- ``hyperparameters``     theory-driven hyper-parameter selection
- ``survey``              F9: double descent, lazy training, depth efficiency
"""
