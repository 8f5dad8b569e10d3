"""What inspects a compiled circuit: the table, the trace, the graph, the cost, the check."""
