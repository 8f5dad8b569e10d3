"""The emitter: IR to module source text (printer, planner, layout, templates, backends)."""
