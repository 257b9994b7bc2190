"""Theory: infinite-width kernels and spectra, learning curves, finite-width corrections (see nnft/__init__.py)."""
