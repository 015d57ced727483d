"""BUG: least squares on PCA-whitened features (X.T @ X / N = I exactly),
loss 0.5*mean_n ||x_n W - y_n||^2, NO regularization. The gradient is
expanded as X.T @ X @ W / N - X.T @ Y and the second term's / N is forgotten.

True pattern: analytic - true = -(N-1)/N * X.T @ Y: the X.T@X@W/N part is
right, only the X.T@Y part is N x too big. Because X.T@X = N*I, the
gradient is W - X.T@Y/N, so analytic = N*numeric - (N-1)*W holds exactly.
The model has no L2 term and nothing proportional to W is "not scaled":
the part that IS proportional to W is exactly the part that is right.
A hint saying "the data part of the gradient is N x the true one; a part
proportional to W (an L2 term's gradient?) is not scaled with it" is false
about this model.
"""
import numpy as np

N, D, K = 40, 5, 3
_r = np.random.default_rng(5)
_raw = _r.standard_normal((N, D)) @ _r.standard_normal((D, D))
_raw -= _raw.mean(axis=0)
_u, _s, _vt = np.linalg.svd(_raw, full_matrices=False)
X = _u * np.sqrt(N)          # PCA-whitened: X.T @ X = N * I
Y = _r.standard_normal((N, K))


def init_params(seed=0):
    return {"W": np.random.default_rng(seed).standard_normal((D, K))}


def loss(p):
    r = X @ p["W"] - Y
    return 0.5 * np.mean(np.sum(r * r, axis=1))


def grad(p):
    return {"W": X.T @ X @ p["W"] / N - X.T @ Y}   # BUG: X.T @ Y / N
