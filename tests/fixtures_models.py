"""Fixtures of the models stage."""
