"""Judging picks against truth: one-to-one matching and precision, recall, F1 and average precision."""
