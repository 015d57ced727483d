"""Issue 23 cases adapted from PUBLIC code (not written here), each keeping
the original formulas; repository, path and commit in each model's comment.
Same Case interface and truth as tests/attack_round3.py (whose ``truth`` /
``run`` this file reuses):

    python tests/public_round3.py --truth [--seeds 3]
    python tests/public_round3.py [--seeds 3]        # gradcheck verdicts

Classes covered: c1 (SVM hinge mask at a 1e-4 init), c6/c7 (nnfs' bias
regularization and L1 with sign(0) = +1 at zero biases), c8 (max-pool
backward with (window == max), public and buggy at ties), c9 (the same SVM at
CIFAR size, one element 1 % off), c10 (nnfs' clipped binary cross-entropy
behind a sigmoid: correct inside the clip).
"""

from __future__ import annotations

import sys

import numpy as np

try:
    from tests.evidence_models import Case, _f64, _pair
    from tests.attack_round3 import _first_index_piece, _model, _trained, script
except ImportError:  # run as a script from tests/
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    from tests.evidence_models import Case, _f64, _pair
    from tests.attack_round3 import _first_index_piece, _model, _trained, script


def _rng(tag: int, seed: int) -> np.random.Generator:
    return np.random.default_rng([9800 + tag, seed])


# ---------------------------------------------------------------------------
# ybucla/CodeManage ML/ssvm/svm_loss_vectorized.py
# @ 8e517fd5541608cb7dfddd22442a20581e1600ae (CS231n svm_loss_vectorized):
#   scores = (X.dot(W)).T
#   margins = np.maximum(0,scores-scores[y,range(num_train)] + 1)
#   margins[y,range(num_train)] = 0
#   loss = np.sum(margins); loss /= num_train; loss += 0.5 * reg * np.sum(W * W)
#   ds = np.zeros(margins.shape); ds[margins>0] = 1
#   ds[y,range(num_train)] = -np.sum(margins>0,axis=0)
#   dW = np.dot(X.T,ds.T); dW /= num_train; dW += reg*W
# Correct. Twins: 'nomask' ds = 1 everywhere off the label (margins>0
# forgotten; exact at W ~ 1e-4); at CIFAR size 'one1pct' one dW element x1.01.

def svm_vectorized_public(seed, n=16, d=6, c=4, std=1e-4, reg=1e-3, cifar=False, bug=None):
    r = _rng(1, seed)
    if cifar:
        n, d, c, reg = 200, 3073, 10, 50.0
        X = np.hstack([r.integers(0, 256, (n, d - 1)) - 127.5, np.ones((n, 1))])
    else:
        X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    num_train = n
    pick = (int(r.integers(0, d)), int(r.integers(0, c)))

    def expr(p, o):
        W = p["W"]
        scores = (X.dot(W)).T
        margins = o.maximum0(scores - scores[y, range(num_train)] + 1)
        margins[y, range(num_train)] = 0
        return np.sum(margins) / num_train + 0.5 * reg * np.sum(W * W)

    def loss_np(p):
        W = p["W"]
        scores = (X.dot(W)).T
        margins = np.maximum(0, scores - scores[y, range(num_train)] + 1)
        margins[y, range(num_train)] = 0
        loss = np.sum(margins)
        loss /= num_train
        loss += 0.5 * reg * np.sum(W * W)
        return float(loss)

    def vectorized(W, nomask=False):
        scores = (X.dot(W)).T
        margins = np.maximum(0, scores - scores[y, range(num_train)] + 1)
        margins[y, range(num_train)] = 0
        ds = np.zeros(margins.shape)
        if nomask:
            ds[:] = 1
            ds[y, range(num_train)] = 0
            ds[y, range(num_train)] = -np.sum(ds > 0, axis=0)
        else:
            ds[margins > 0] = 1
            ds[y, range(num_train)] = -np.sum(margins > 0, axis=0)
        dW = np.dot(X.T, ds.T)
        dW /= num_train
        dW += reg * W
        return dW

    def grad(p):
        dW = vectorized(_f64(p, "W"), nomask=bug == "nomask")
        if bug == "one1pct":
            dW[pick] *= 1.01
        return {"W": dW}

    truth_fn = (lambda p: {"W": vectorized(np.asarray(p["W"], dtype=float))}) if cifar else None
    return _model(expr, grad, {"W": std * r.standard_normal((d, c))}, loss_np=loss_np, lr=None if cifar else 0.05,
                  elsewhere=None if cifar else _trained({"W": 0.5}), truth=truth_fn)


# ---------------------------------------------------------------------------
# Sentdex/nnfs_book Chapter_15/Ch15_Final.py @ ace98db7faffc150e4dc405f39b456a969ac9ab4
# Layer_Dense (weights 0.01 randn, biases zeros; L1/L2 on weights AND biases:
#   dL1 = np.ones_like(self.weights); dL1[self.weights < 0] = -1   (sign(0) = +1)
#   self.dweights += self.weight_regularizer_l1 * dL1
#   self.dweights += 2 * self.weight_regularizer_l2 * self.weights   (same for biases)
#   Loss.regularization_loss: l1 * np.sum(np.abs(w)) + l2 * np.sum(w * w), per block)
# Activation_ReLU (dinputs[inputs <= 0] = 0), Activation_Softmax (Jacobian per
# sample), Loss_CategoricalCrossentropy (np.clip(y_pred, 1e-7, 1 - 1e-7) in the
# forward, dinputs = -y_true / dvalues / samples in the backward).
# Correct (L1 at b = 0 with +1: a subgradient). Twin 'biasl2': the backward
# keeps bias_regularizer_l2 while the loss's regularization_loss leaves the
# biases out (a term exactly 0 at the zero-bias init).

def nnfs_dense(seed, n=12, d=2, h=8, c=3, wl1=5e-4, wl2=5e-4, bl1=5e-4, bl2=5e-4, bug=None):
    r = _rng(2, seed)
    X = r.standard_normal((n, d))
    y = r.integers(0, c, n)
    params = {"W1": 0.01 * r.standard_normal((d, h)), "b1": np.zeros((1, h)),
              "W2": 0.01 * r.standard_normal((h, c)), "b2": np.zeros((1, c))}
    loss_bl2 = 0.0 if bug == "biasl2" else bl2

    def expr(p, o):
        a1 = o.maximum0(np.dot(X, p["W1"]) + p["b1"])
        z2 = np.dot(a1, p["W2"]) + p["b2"]
        e = o.exp(z2 - z2.max(axis=1, keepdims=True))
        probs = e / e.sum(axis=1, keepdims=True)
        conf = o.clip(probs, 1e-7, 1 - 1e-7)[range(n), y]
        data = np.sum(-o.log(conf)) / n
        reg = 0
        for w, b in (("W1", "b1"), ("W2", "b2")):
            reg = reg + wl1 * np.sum(o.abs(p[w])) + wl2 * np.sum(p[w] * p[w])
            reg = reg + bl1 * np.sum(o.abs(p[b])) + loss_bl2 * np.sum(p[b] * p[b])
        return data + reg

    def grad(p):
        pf = {k: _f64(p, k) for k in p}
        z1 = np.dot(X, pf["W1"]) + pf["b1"]
        a1 = np.maximum(0, z1)
        z2 = np.dot(a1, pf["W2"]) + pf["b2"]
        ev = np.exp(z2 - np.max(z2, axis=1, keepdims=True))
        out = ev / np.sum(ev, axis=1, keepdims=True)
        y_true = np.eye(c)[y]
        dvalues = -y_true / out / n                      # Loss_CategoricalCrossentropy.backward
        dz2 = np.empty_like(dvalues)                     # Activation_Softmax.backward
        for index, (single_output, single_dvalues) in enumerate(zip(out, dvalues)):
            single_output = single_output.reshape(-1, 1)
            jacobian_matrix = np.diagflat(single_output) - np.dot(single_output, single_output.T)
            dz2[index] = np.dot(jacobian_matrix, single_dvalues)
        g = {}

        def dense_backward(inputs, dv, w, b):
            dweights = np.dot(inputs.T, dv)
            dbiases = np.sum(dv, axis=0, keepdims=True)
            dL1 = np.ones_like(pf[w])
            dL1[pf[w] < 0] = -1
            dweights += wl1 * dL1
            dweights += 2 * wl2 * pf[w]
            dL1 = np.ones_like(pf[b])
            dL1[pf[b] < 0] = -1
            dbiases += bl1 * dL1
            dbiases += 2 * bl2 * pf[b]
            g[w], g[b] = dweights, dbiases
            return np.dot(dv, pf[w].T)

        da1 = dense_backward(a1, dz2, "W2", "b2")
        dz1 = da1.copy()                                 # Activation_ReLU.backward
        dz1[z1 <= 0] = 0
        dense_backward(X, dz1, "W1", "b1")
        return g

    return _model(expr, grad, params, elsewhere=_trained({"W1": 0.7, "W2": 0.7, "b1": 0.3, "b2": 0.3}))


# ---------------------------------------------------------------------------
# Sentdex/nnfs_book loss/binary_cross_entropy.py and activation_func/sigmoid.py
# @ 43c56611605fd6581e320b4ddb34c03cfbd73345:
#   y_pred_clipped = np.clip(y_pred, 1e-7, 1 - 1e-7)
#   sample_losses = -(y_true * np.log(y_pred_clipped) + (1 - y_true) * np.log(1 - y_pred_clipped))
#   sample_losses = np.mean(sample_losses, axis=-1)
#   backward: clipped_dvalues = np.clip(dvalues, 1e-7, 1 - 1e-7)
#     dinputs = -(y_true / clipped_dvalues - (1 - y_true) / (1 - clipped_dvalues)) / outputs / samples
#   Activation_Sigmoid: output = 1 / (1 + np.exp(-inputs)); dinputs = dvalues * (1 - output) * output
# behind a Dense layer (nnfs Layer_Dense, no regularization). Correct inside
# the clip (past it the loss is flat while the backward is not); separable
# data x4 so training pushes outputs to the clip. Twin 'preact': the
# sigmoid's backward from its inputs, dvalues * (1 - inputs) * inputs.

def nnfs_bce(seed, n=24, d=3, k=2, xscale=4.0, bug=None):
    r = _rng(3, seed)
    X = xscale * r.standard_normal((n, d))
    y_true = (X @ r.standard_normal((d, k)) > 0).astype(float)
    params = {"W": 0.3 * r.standard_normal((d, k)), "b": np.zeros((1, k))}

    def expr(p, o):
        y_pred = o.sigmoid(np.dot(X, p["W"]) + p["b"])
        y_pred_clipped = o.clip(y_pred, 1e-7, 1 - 1e-7)
        sample_losses = -(y_true * o.log(y_pred_clipped) + (1 - y_true) * o.log(1 - y_pred_clipped))
        return np.sum(sample_losses.sum(axis=-1) / k) / n

    def grad(p):
        W, b = _f64(p, "W"), _f64(p, "b")
        inputs = np.dot(X, W) + b
        output = 1 / (1 + np.exp(-inputs))
        samples, outputs = len(output), len(output[0])
        clipped_dvalues = np.clip(output, 1e-7, 1 - 1e-7)
        dinputs = -(y_true / clipped_dvalues - (1 - y_true) / (1 - clipped_dvalues)) / outputs
        dinputs = dinputs / samples
        if bug == "preact":
            dz = dinputs * (1 - inputs) * inputs
        else:
            dz = dinputs * (1 - output) * output
        return {"W": np.dot(X.T, dz), "b": np.sum(dz, axis=0, keepdims=True)}

    def valid(p):
        s = 1 / (1 + np.exp(-(np.dot(X, p["W"]) + p["b"])))
        return bool(np.all((s > 1e-7) & (s < 1 - 1e-7)))

    return _model(expr, grad, params, valid=valid)


# ---------------------------------------------------------------------------
# MariumAZ/holbertonschool-machine_learning supervised_learning/0x07-cnn/3-pool_backward.py
# @ ae89f28398ce3872127445783071bec2da5d9c59 (stride default (1, 1): overlapping):
#   A_prev_mini = A_prev[i,h*sh:h*sh+kh,w*sw:w*sw+kw,c]
#   if mode == "max": mask = (A_prev_mini == np.max(A_prev_mini))
#   elif mode == "average": average = 1 / (kh * kw ); mask = average * np.ones(kernel_shape)
#   dA_prev[i,h*sh:h*sh+kh,w*sw:w*sw+kw,c] += mask * dA[i,h,w,c]
# As loss = sum(dA * pool_forward(A_prev)) on integer-valued A_prev (NHWC).
# 'max' is the PUBLIC code, buggy at ties (each tied maximum gets dA); its
# fixed twin sends dA to the first maximum (np.argmax); 'average' is correct.

def holberton_pool(seed, m=2, hw=5, ch=2, kernel_shape=(2, 2), stride=(1, 1), mode="max", fixed=False, bug=None):
    r = _rng(4, seed)
    A_prev = r.integers(0, 3, (m, hw, hw, ch)).astype(float)
    kh, kw = kernel_shape
    sh, sw = stride
    h_new, w_new = (hw - kh) // sh + 1, (hw - kw) // sw + 1
    dA = r.standard_normal((m, h_new, w_new, ch))

    def expr(p, o):
        tot = 0
        for i in range(m):
            for h in range(h_new):
                for w in range(w_new):
                    for c in range(ch):
                        mini = p["A"][i, h * sh:h * sh + kh, w * sw:w * sw + kw, c]
                        v = mini.max() if mode == "max" else mini.sum() / (kh * kw)
                        tot = tot + dA[i, h, w, c] * v
        return tot

    def grad(p):
        A = _f64(p, "A")
        dA_prev = np.zeros(A.shape)
        for i in range(m):
            for h in range(h_new):
                for w in range(w_new):
                    for c in range(ch):
                        A_prev_mini = A[i, h * sh:h * sh + kh, w * sw:w * sw + kw, c]
                        if mode == "max" and fixed:
                            mask = np.zeros(A_prev_mini.shape)
                            mask[np.unravel_index(np.argmax(A_prev_mini), A_prev_mini.shape)] = 1
                        elif mode == "max":
                            mask = (A_prev_mini == np.max(A_prev_mini))
                        else:
                            average = 1 / (kh * kw)
                            mask = average * np.ones(kernel_shape)
                        dA_prev[i, h * sh:h * sh + kh, w * sw:w * sw + kw, c] += mask * dA[i, h, w, c]
        return {"A": dA_prev}

    model = _model(expr, grad, {"A": A_prev})
    model[0].limit = _first_index_piece
    return model


CASES: list[Case] = [
    *_pair("pub-svm-vec", "c1-hidden", svm_vectorized_public, "ybucla CS231n svm_loss_vectorized, W~1e-4",
           [("nomask", "ds = 1 off the label: margins>0 forgotten (exact at W~1e-4)")]),
    *_pair("pub-svm-cifar", "c9-big", svm_vectorized_public,
           "ybucla svm_loss_vectorized at D=3073, C=10, N=200 (SLOW)", [("one1pct", "one dW element x1.01")],
           cifar=True),
    *_pair("pub-nnfs-dense", "c6-biasreg", nnfs_dense,
           "nnfs Ch15 Dense/ReLU/Softmax/CCE, L1+L2 on W and b, b = 0 (sign(0)=+1)",
           [("biasl2", "backward keeps bias L2, the loss leaves it out (0 at b = 0)")]),
    *_pair("pub-nnfs-bce", "c10-domain", nnfs_bce, "nnfs clipped BCE + sigmoid + dense, separable x4",
           [("preact", "sigmoid backward from its inputs")]),
    Case("pub-holb-pool/eqmask", "c8-pool", False, lambda s: holberton_pool(s),
         "BUG (public as is) Holberton pool_backward max: (A_prev_mini == max) * dA, stride 1, integer input"),
    Case("pub-holb-pool", "c8-pool", True, lambda s: holberton_pool(s, fixed=True),
         "the same with the mask at np.argmax (fixed twin)"),
    Case("pub-holb-avgpool", "c8-pool", True, lambda s: holberton_pool(s, mode="average"),
         "Holberton pool_backward average mode, integer input (correct)"),
]
assert len({c.name for c in CASES}) == len(CASES)

if __name__ == "__main__":
    # c9-big: loss.truth is the public vectorised code itself; the bug's deviation is exact by construction.
    script(CASES, no_truth={"c9-big"})
