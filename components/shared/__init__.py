"""Parts every Rapport component shares: the message contracts, the BERT encoder finder and
the tracing of prediction graphs."""
