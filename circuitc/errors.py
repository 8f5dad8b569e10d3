"""The one exception circuitc raises for a circuit it cannot compile."""


class CircuitError(ValueError):
    """A circuit that circuitc cannot compile: an unsupported op, a bad name, shapes that disagree.

    The message names the offending symbol or op. It is a ``ValueError`` so that callers that
    already catch bad values keep working.
    """
