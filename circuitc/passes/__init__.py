"""Passes over the compiled IR (folding, dead code, reuse)."""
