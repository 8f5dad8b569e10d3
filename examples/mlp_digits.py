"""A 64-64-10 softmax network for scikit-learn's ``digits`` (8×8 images, 10 classes).

Instances are rows: X is N×65 (the 64 standardised pixels and, first, the bias column
x_0 = 1, which ``circuitc train`` adds because X has one column more than the data), and Y is
N×10, the one-hot labels. N is a symbol, so one module serves any batch size.

    Z = sigmoid(X W1)           hidden layer, 64 sigmoid units (W1 is 65×64: row 0 is the bias)
    A = Z W2 + b2               10 logits (b2 a 1×10 row added to every row)
    J = mean over rows of −Σ_k Y_k log softmax(A)_k      the cross-entropy, via log-sum-exp
    ŷ = softmax(A)              the prediction: one probability per class

Train it with ``circuitc train examples/mlp_digits.py`` (its ``TRAIN`` names the data set).
"""

import sympy as sp

from circuitc import Circuit, nn

#: settings for ``circuitc train`` (the flags override them)
TRAIN = dict(data="digits", epochs=30, lr=0.5, batch_size=32)


def make_circuit(D: int = 65, H: int = 64, K: int = 10, name: str = "mlp_digits") -> Circuit:
    """The network with D inputs (bias column included), H hidden units and K classes."""
    N = sp.Symbol("N")  # the batch size, bound from the arrays at call time
    X = sp.MatrixSymbol("X", N, D)
    Y = sp.MatrixSymbol("Y", N, K)
    W1 = sp.MatrixSymbol("W1", D, H)
    W2 = sp.MatrixSymbol("W2", H, K)
    b2 = sp.MatrixSymbol("b2", 1, K)
    Z = sp.MatrixSymbol("Z", N, H)
    A = sp.MatrixSymbol("A", N, K)
    J = sp.Symbol("J")
    return Circuit(
        name,
        output=J,
        wrt=[W1, W2, b2],
        steps=[
            (Z, nn.sigmoid(X * W1)),
            (A, nn.linear(Z, W2, b2)),
            (J, nn.softmax_cross_entropy(A, Y)),
        ],
        features=X,
        target=Y,
        prediction=nn.softmax(A),
    )


circuit = make_circuit()
