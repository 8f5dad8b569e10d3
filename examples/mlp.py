"""A 784-256-10 multilayer perceptron: the digit-recognition shape (28×28 images, 10 classes).

Instances are rows: X is N×784, Y the N×10 one-hot labels; N is a symbol bound at call time.

    Z = relu(X W1 + b1)      256 hidden units (W1 is 784×256, b1 a 1×256 row)
    A = Z W2 + b2            10 logits (W2 is 256×10, b2 a 1×10 row)
    J = mean over rows of −Σ_k Y_k log softmax(A)_k     via log-sum-exp (row max subtracted)
    ŷ = softmax(A)           the prediction: one probability per class

The generated module is what ``benchmarks/bench_matrix.py`` times against hand-written NumPy.
"""

import sympy as sp

from circuitc import Circuit, nn


def make_circuit(D: int = 784, H: int = 256, K: int = 10, name: str = "mlp") -> Circuit:
    """The network with D inputs, H hidden ReLU units and K classes."""
    N = sp.Symbol("N")  # the batch size
    X = sp.MatrixSymbol("X", N, D)
    Y = sp.MatrixSymbol("Y", N, K)
    W1 = sp.MatrixSymbol("W1", D, H)
    b1 = sp.MatrixSymbol("b1", 1, H)
    W2 = sp.MatrixSymbol("W2", H, K)
    b2 = sp.MatrixSymbol("b2", 1, K)
    Z = sp.MatrixSymbol("Z", N, H)
    A = sp.MatrixSymbol("A", N, K)
    J = sp.Symbol("J")
    return Circuit(
        name,
        output=J,
        wrt=[W1, b1, W2, b2],
        steps=[
            (Z, nn.relu(nn.linear(X, W1, b1))),
            (A, nn.linear(Z, W2, b2)),
            (J, nn.softmax_cross_entropy(A, Y)),
        ],
        features=X,
        target=Y,
        prediction=nn.softmax(A),
    )


circuit = make_circuit()
