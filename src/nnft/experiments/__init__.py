"""Experiments: one builder per figure or study, theory beside measurement (see nnft/__init__.py)."""
