"""A few examples for the classifier sample: 6 points in 5 dimensions, 3 classes."""

import numpy as np

X = np.random.default_rng(4).standard_normal((6, 5))
y = np.array([0, 1, 2, 2, 1, 0])
