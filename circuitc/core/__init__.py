"""The IR and its vocabulary: the DAG, the op registry and the hand-off records."""
