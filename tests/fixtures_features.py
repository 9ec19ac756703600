"""Fixtures of the features stage."""
