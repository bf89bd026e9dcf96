"""Parts every Rapport component shares: the message contracts and the BERT encoder finder."""
