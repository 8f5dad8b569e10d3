"""Binary logistic regression: lecture notes section 2.2, with two losses.

D = 4 features x_1..x_4 and the bias input x_0 = 1:

    a = θ_0 + Σ_{j=1..4} θ_j x_j,    y = sigmoid(a) = 1 / (1 + exp(−a)),

and two circuits in one file (``circuits = [...]``):

* ``logistic_regression``: the notes' squared loss J = ½ (y − y*)²;
* ``logistic_regression_cross_entropy``: the cross-entropy loss
  J = −(y* log y + (1 − y*) log(1 − y)).

Where the product differs from the notes:

* the notes' h(a) = 1/(1 + exp(a)) is sigmoid(−a): the same model with θ negated. The
  usual sigmoid(a) = 1/(1 + exp(−a)) is used here, and the notes' dy/da = exp(a)/(exp(a)+1)²
  for their h has the wrong sign (it is −exp(a)/(exp(a)+1)²); circuitc's rule for sigmoid is
  dy/da = y (1 − y).
* the notes' cross entropy (section 2.1) is missing the minus sign: as written it is the
  log-likelihood, to be maximised. The *loss* is its negative.
* the cross-entropy is written with log(sigmoid(a)) and log(1 − sigmoid(a)), which circuitc
  lowers into the stable −softplus(−a) and −softplus(a): no inf/nan for |a| of 1e4.
"""

import sympy as sp

from circuitc import Circuit, sigmoid

D = 4

theta = sp.symbols(f"theta_0:{D + 1}")  # theta_0 (bias) .. theta_4
x = sp.symbols(f"x_1:{D + 1}")  # x_1 .. x_4; x_0 = 1 is the bias input
y_star = sp.Symbol("y_star")
a, y, J = sp.symbols("a y J")

# a = θ·x with x_0 = 1
linear = (a, theta[0] + sum(theta[j] * x[j - 1] for j in range(1, D + 1)))

squared = Circuit(
    "logistic_regression",
    output=J,
    wrt=list(theta),
    steps=[
        linear,
        # the notes write 1/(1 + exp(a)), which is sigmoid(-a): the same model, θ negated
        (y, sigmoid(a)),
        (J, (y - y_star) ** 2 / 2),
    ],
    features=list(x),
    target=y_star,
    prediction=y,
)

cross_entropy = Circuit(
    "logistic_regression_cross_entropy",
    output=J,
    wrt=list(theta),
    steps=[
        linear,
        (y, sigmoid(a)),
        # the loss is minus the notes' expression; log(y) and log(1 - y) of y = sigmoid(a)
        # lower into the stable -softplus(-a) and -softplus(a)
        (J, -(y_star * sp.log(y) + (1 - y_star) * sp.log(1 - y))),
    ],
    features=list(x),
    target=y_star,
    prediction=y,
)

circuits = [squared, cross_entropy]
