"""Monte Carlo error bars over independent chains, shared by the sampler tests."""

import numpy as np


def total_variance(f_mean, f_var):
    """The ensemble's total variance of each output (mean within-chain variance + between-chain variance of the time
    averages; chains along axis 0) and its delete-one jackknife standard error over chains."""
    m = f_mean.shape[0]

    def total(idx):
        return f_var[idx].mean(0) + f_mean[idx].var(0)

    loo = np.stack([total(np.delete(np.arange(m), i)) for i in range(m)])
    return total(np.arange(m)), np.sqrt((m - 1) / m * ((loo - loo.mean(0)) ** 2).sum(0))


def total_variance_z(f_mean, f_var, var):
    """z of the ensemble's total variance against `var`."""
    est, se = total_variance(f_mean, f_var)
    return (est - var) / se
