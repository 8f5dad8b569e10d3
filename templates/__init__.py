"""Jinja templates of circuitc (shipped as the package circuitc.templates)."""
