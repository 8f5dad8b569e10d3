"""The small example of the lecture notes, section 1.3: J = cos(sin(x²) + 3x²).

The circuit is written with the notes' own named steps (t, u1, u2, u, J), so the generated
code and ``circuitc table`` use the notes' names, and the backward pass shows the two
contributions to dJ/dt (t fans out into u1 and u2) exactly as the notes' table does.

Compile it with ``circuitc compile examples/small_example.py -o generated/``.

Where the product differs from the notes: nowhere in the mathematics. The notes list the
steps top-down from J; the generated code runs them bottom-up (forward), then top-down
(backward), and its first backward line is the seed dJ/dJ = 1 that the notes leave implicit.
"""

import sympy as sp

from circuitc import Circuit

x = sp.Symbol("x")
t, u1, u2, u, J = sp.symbols("t u1 u2 u J")

circuit = Circuit(
    "small_example",
    output=J,
    wrt=[x],
    steps=[
        (t, x**2),
        (u1, sp.sin(t)),
        (u2, 3 * t),
        (u, u1 + u2),
        (J, sp.cos(u)),
    ],
)
