"""A Hessian-vector product as an expert writes it by hand: the honest baseline of
``benchmarks/second_order.py``.

Written from the mathematics (Pearlmutter's R-operator: forward over reverse by hand), never
from circuitc's output, under the rules of ``benchmarks/expert.py``: ``math`` and NumPy only,
forward values reused, one fused NumPy expression a line, in-place updates (``out=``, ``*=``)
into arrays the function allocated itself, never into the caller's, every returned array fresh.

The 784-256-10 MLP, instances as rows (X is N×D, Y the N×K targets)::

    H = X W1 + b1,  Z = relu(H),  A = Z W2 + b2,  J = mean_i [lse(A_i) − Σ_k Y_ik A_ik]

Backward: G = dJ/dA = (P − Y)/N with P = softmax(A) (the log-sum-exp of a row has coefficient
1, so this holds for any Y, one-hot or not); dZ = G W2ᵀ, dH = dZ ⊙ m with m = [H > 0];
dW2 = Zᵀ G, db2 = 1ᵀ G, dW1 = Xᵀ dH, db1 = 1ᵀ dH.

R{·} is the directional derivative along v = (V1, c1, V2, c2); X and Y are data (R{X} = 0):

    R{H} = X V1 + c1                 R{Z} = m ⊙ R{H}       (relu'' = 0 almost everywhere)
    R{A} = R{Z} W2 + Z V2 + c2       R{P} = P ⊙ (R{A} − rowsum(P ⊙ R{A}))
    R{G} = R{P} / N                  (Y is data)
    R{dW2} = R{Z}ᵀ G + Zᵀ R{G}       R{db2} = 1ᵀ R{G}
    R{dZ} = R{G} W2ᵀ + G V2ᵀ         R{dH} = R{dZ} ⊙ m
    R{dW1} = Xᵀ R{dH}                R{db1} = 1ᵀ R{dH}

Hv is (R{dW1}, R{db1}, R{dW2}, R{db2}). The N×D products are the cost: X W1 and X V1 forward,
Xᵀ R{dH} backward (the gradient itself, Xᵀ dH, is never formed: nobody asked for it), three
784-wide matrix products against the gradient's two.
"""

from __future__ import annotations

import numpy as np


def mlp_hvp(W1, b1, W2, b2, X, Y, V1, c1, V2, c2):
    """(∇²J)·v of the mean softmax cross-entropy of the relu MLP, as (W1, b1, W2, b2) arrays."""
    n = X.shape[0]
    H = X @ W1
    H += b1
    mask = H > 0.0
    Z = np.maximum(H, 0.0, out=H)  # the pre-activation is dead once its mask is taken
    A = Z @ W2 + b2
    A -= A.max(axis=1, keepdims=True)
    P = np.exp(A)
    P /= P.sum(axis=1, keepdims=True)  # softmax(A), N×K
    RZ = X @ V1  # R{H}, then R{Z} in place
    RZ += c1
    RZ *= mask
    RA = RZ @ W2 + Z @ V2 + c2
    RP = P * RA
    RP -= P * RP.sum(axis=1, keepdims=True)  # R{P} = P ⊙ (R{A} − rowsum(P ⊙ R{A}))
    RP /= n  # R{G}
    P -= Y
    P /= n  # G = dJ/dA
    RdZ = RP @ W2.T + P @ V2.T
    RdZ *= mask  # R{dH}
    return (
        X.T @ RdZ,
        RdZ.sum(axis=0, keepdims=True),
        RZ.T @ P + Z.T @ RP,
        RP.sum(axis=0, keepdims=True),
    )
