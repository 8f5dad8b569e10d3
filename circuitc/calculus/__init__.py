"""The calculus: the rule table of local derivatives and the sweeps driven by it."""
