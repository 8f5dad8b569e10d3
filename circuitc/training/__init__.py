"""Training compiled modules: data sets, SGD and friends, checkpoints."""
