"""A 2-layer neural network with the squared loss: lecture notes section 2.3.

M = 3 inputs x_1..x_3 plus the bias input x_0 = 1, D = 4 sigmoid hidden units plus the
bias unit z_0 = 1, one sigmoid output:

    a_j = α_j0 + Σ_{i=1..3} α_ji x_i      (j = 1..4)
    z_j = sigmoid(a_j)
    b   = β_0 + Σ_{j=1..4} β_j z_j
    y   = sigmoid(b)
    J   = ½ (y − y*)²

Parameters: α_ji for j = 1..4, i = 0..3 (``alpha_j_i``, 16 of them) and β_j for j = 0..4
(``beta_j``, 5), 21 in all; the target y* is ``y_star``.

Where the product differs from the notes:

* the notes' 1/(1 + exp(a)) is sigmoid(−a); the usual sigmoid(a) = 1/(1 + exp(−a)) is used
  (the same network with every weight negated), and its derivative is z (1 − z), where the
  notes' dz/da has the wrong sign for their own h.
* the notes' da_j/dx_i = Σ_j α_ji is wrong: da_j/dx_i = α_ji (no sum); the sum over j
  appears in dJ/dx_i = Σ_j dJ/da_j · α_ji, which the generated code accumulates with ``+=``
  where x_i fans out (here the x_i are data, so their adjoints are not computed at all).
* x_0 = 1 and z_0 = 1 are written out as the biases α_j0 and β_0; the sums over j = 0..D
  have D + 1 terms.
"""

import sympy as sp

from circuitc import Circuit, sigmoid

M = 3  # inputs, besides x_0 = 1
D = 4  # hidden units, besides z_0 = 1

x = sp.symbols(f"x_1:{M + 1}")  # x_1 .. x_3
alpha = [[sp.Symbol(f"alpha_{j}_{i}") for i in range(M + 1)] for j in range(1, D + 1)]
beta = sp.symbols(f"beta_0:{D + 1}")  # beta_0 (bias) .. beta_4
y_star = sp.Symbol("y_star")
a = sp.symbols(f"a_1:{D + 1}")
z = sp.symbols(f"z_1:{D + 1}")
b, y, J = sp.symbols("b y J")

steps = []
for j in range(D):
    steps.append((a[j], alpha[j][0] + sum(alpha[j][i] * x[i - 1] for i in range(1, M + 1))))
for j in range(D):
    steps.append((z[j], sigmoid(a[j])))
steps += [
    (b, beta[0] + sum(beta[j] * z[j - 1] for j in range(1, D + 1))),
    (y, sigmoid(b)),
    (J, (y - y_star) ** 2 / 2),
]

circuit = Circuit(
    "two_layer_nn",
    output=J,
    wrt=[w for row in alpha for w in row] + list(beta),
    steps=steps,
    features=list(x),
    target=y_star,
    prediction=y,
)
