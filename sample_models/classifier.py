"""A CS231n-style classifier object checked as it is: `gradcheck sample_models/classifier.py:net`.
Its params dict and loss(X, y) -> (loss, grads) are used directly; X and y are found here by name."""
from layer_lib.classifiers import TwoLayerNet
from layer_lib.data import X, y  # noqa: F401  (loss's arguments, by name)
net = TwoLayerNet(input_dim=5, hidden_dim=8, num_classes=3, reg=0.1)
