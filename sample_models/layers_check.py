"""Every layer of layer_lib/layers.py, checked: `gradcheck sample_models/layers_check.py`.

Each line is one layer: its forward and backward, and its inputs (a shape
is filled with seeded random values; other values pass through)."""

import numpy as np

from gradcheck_cli import layer
from layer_lib.layers import *  # noqa: F403

y = np.array([0, 2, 1, 2])
affine = layer(affine_forward, affine_backward, x=(4, 2, 3), w=(6, 5), b=(5,))
relu = layer(relu_forward, relu_backward, x=(4, 5))
batchnorm = layer(batchnorm_forward, batchnorm_backward, x=(6, 4), gamma=(4,), beta=(4,), bn_param={})
dropout = layer(dropout_forward, dropout_backward, x=(4, 5), dropout_param={"p": 0.6})
conv = layer(conv_forward_naive, conv_backward_naive, x=(2, 3, 5, 5), w=(4, 3, 3, 3), b=(4,),
             conv_param={"stride": 2, "pad": 1})
max_pool = layer(max_pool_forward_naive, max_pool_backward_naive, x=(2, 3, 4, 4),
                 pool_param={"pool_height": 2, "pool_width": 2, "stride": 2})
softmax = layer(softmax_loss, x=(4, 3), y=y)
svm = layer(svm_loss, x=(4, 3), y=y)
lstm_step = layer(lstm_step_forward, lstm_step_backward, x=(3, 4), prev_h=(3, 5), prev_c=(3, 5), Wx=(4, 20),
                  Wh=(5, 20), b=(20,))
