"""A classifier object in the CS231n style: params in a dict, and
loss(X, y) -> (loss, grads) built from the layers in layers.py."""

import numpy as np

from .layers import affine_backward, affine_forward, relu_backward, relu_forward, softmax_loss


class TwoLayerNet:
    """affine - relu - affine - softmax, with L2 regularization."""

    def __init__(self, input_dim=5, hidden_dim=8, num_classes=3, weight_scale=1e-1, reg=0.0, seed=0):
        rng = np.random.default_rng(seed)
        self.reg = reg
        self.params = {"W1": weight_scale * rng.standard_normal((input_dim, hidden_dim)), "b1": np.zeros(hidden_dim),
                       "W2": weight_scale * rng.standard_normal((hidden_dim, num_classes)), "b2": np.zeros(num_classes)}

    def loss(self, X, y=None):
        p = self.params
        hidden, affine1 = affine_forward(X, p["W1"], p["b1"])
        activated, relu = relu_forward(hidden)
        scores, affine2 = affine_forward(activated, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        dactivated, dW2, db2 = affine_backward(dscores, affine2)
        dx, dW1, db1 = affine_backward(relu_backward(dactivated, relu), affine1)
        return loss, {"W1": dW1 + self.reg * p["W1"], "b1": db1, "W2": dW2 + self.reg * p["W2"], "b2": db2}
