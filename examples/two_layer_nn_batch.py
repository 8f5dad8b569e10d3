"""A 2-layer neural network over a batch: lecture notes section 2.3 with matrices.

Instances are rows: X is N×D with the bias input x_0 = 1 as its first column (D = 31 for the
30 breast-cancer features), H sigmoid hidden units, one sigmoid output and the notes'
squared loss:

    A = X α                  (N×H: a_j = Σ_i α_ji x_i for every row; α is D×H, α[i, j] = α_ji)
    Z = σ(A)                 the hidden layer
    b = Z β + β_0            (N×1; β is H×1, the bias β_0 a 1×1 row added to every row)
    ŷ = σ(b)                 the prediction
    J = mean over rows of ½ (ŷ − y)²

The scalar ``two_layer_nn`` (examples/two_layer_nn.py: M = 3 inputs, D = 4 hidden units) is
this circuit at ``make_circuit(D=4, H=4)`` and N = 1.
"""

import sympy as sp

from circuitc import Circuit, nn


def make_circuit(D: int = 31, H: int = 32, name: str = "two_layer_nn_batch") -> Circuit:
    """The network with D inputs per row (bias column included) and H hidden units."""
    N = sp.Symbol("N")  # the batch size
    X = sp.MatrixSymbol("X", N, D)
    y = sp.MatrixSymbol("y", N, 1)
    alpha = sp.MatrixSymbol("alpha", D, H)
    beta = sp.MatrixSymbol("beta", H, 1)
    beta_0 = sp.MatrixSymbol("beta_0", 1, 1)
    A = sp.MatrixSymbol("A", N, H)
    Z = sp.MatrixSymbol("Z", N, H)
    b = sp.MatrixSymbol("b", N, 1)
    y_hat = sp.MatrixSymbol("y_hat", N, 1)
    J = sp.Symbol("J")
    return Circuit(
        name,
        output=J,
        wrt=[alpha, beta, beta_0],
        steps=[
            (A, X * alpha),
            (Z, nn.sigmoid(A)),
            (b, nn.linear(Z, beta, beta_0)),
            (y_hat, nn.sigmoid(b)),
            (J, nn.squared_loss(y_hat, y)),
        ],
        features=X,
        target=y,
        prediction=y_hat,
    )


circuit = make_circuit()
