"""Sampling: posterior ensembles of finite networks, Langevin and Metropolis-adjusted (see nnft/__init__.py)."""
