"""Binary logistic regression over a batch: lecture notes section 2.2 with matrices.

Instances are rows: X is N×D, its first column the bias input x_0 = 1 (for the 30
breast-cancer features, D = 31), θ is D×1 and y the N×1 column of 0/1 labels. N is a symbol,
bound from the arrays at call time, so one module serves a batch of 1, of 128 and the whole
data set:

    a = X θ                                  (N×1, the notes' a = Σ_j θ_j x_j for every row)
    J = mean over rows of −[y log σ(a) + (1 − y) log(1 − σ(a))]
      = mean over rows of softplus(a) − y a  (the stable form: no inf/nan for |a| = 1e4)
    ŷ = σ(a)                                 the prediction, P(label = 1)

The scalar ``logistic_regression_cross_entropy`` (examples/logistic_regression.py, D = 4
features) is this circuit at ``make_circuit(D=5)`` and N = 1.
"""

import sympy as sp

from circuitc import Circuit, nn


def make_circuit(D: int = 31, name: str = "logistic_regression_batch") -> Circuit:
    """Logistic regression on D inputs per row (the bias column x_0 = 1 included)."""
    N = sp.Symbol("N")  # the batch size
    X = sp.MatrixSymbol("X", N, D)
    y = sp.MatrixSymbol("y", N, 1)
    theta = sp.MatrixSymbol("theta", D, 1)
    a = sp.MatrixSymbol("a", N, 1)
    J = sp.Symbol("J")
    return Circuit(
        name,
        output=J,
        wrt=[theta],
        steps=[
            (a, X * theta),
            (J, nn.binary_cross_entropy_with_logits(a, y)),
        ],
        features=X,
        target=y,
        prediction=nn.sigmoid(a),
    )


circuit = make_circuit()
