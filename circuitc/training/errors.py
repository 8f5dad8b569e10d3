"""The exception of the training layer: data that cannot be used as given."""


class DataError(ValueError):
    """Unusable data: a missing file, a bad cell, NaN/inf, an unknown column, wrong shapes.

    The message is one line naming the problem (and, for a file, its line and column).
    """
