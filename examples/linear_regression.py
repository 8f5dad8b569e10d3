"""Linear regression with the squared loss: lecture notes section 3, with h(a) = a.

D = 4 features x_1..x_4 and the bias input x_0 = 1, so that

    a = θ·x = θ_0 + Σ_{j=1..4} θ_j x_j,    y = h(a) = a,    J = ½ (y − y*)².

The target y* is spelled ``y_star``. Training binds the features and the target from a data
set; ``predict`` returns y.

Where the product differs from the notes: the notes write the sum over j = 0..D with D + 1
terms and leave x_0 implicit; here x_0 = 1 is written out, so θ_0 is the bias and there is
no x_0 argument. Because h(a) = a, the step y is the same value as a, and the generated
code names it a.
"""

import sympy as sp

from circuitc import Circuit

D = 4

theta = sp.symbols(f"theta_0:{D + 1}")  # theta_0 (bias) .. theta_4
x = sp.symbols(f"x_1:{D + 1}")  # x_1 .. x_4; x_0 = 1 is the bias input
y_star = sp.Symbol("y_star")
a, y, J = sp.symbols("a y J")

circuit = Circuit(
    "linear_regression",
    output=J,
    wrt=list(theta),
    steps=[
        (a, theta[0] + sum(theta[j] * x[j - 1] for j in range(1, D + 1))),
        (y, a),  # h(a) = a
        (J, (y - y_star) ** 2 / 2),
    ],
    features=list(x),
    target=y_star,
    prediction=y,
)
