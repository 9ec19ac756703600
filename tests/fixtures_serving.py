"""Fixtures of the serving stage."""
