"""Fixtures of the simulation stage."""
