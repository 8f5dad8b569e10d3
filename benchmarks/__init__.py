"""circuitc's benchmarks: ``python -m benchmarks`` runs ``benchmarks/run.py`` (see its docstring)."""
