"""The front end: SymPy expressions and circuits in, IR out."""
