"""Fixtures of the policy stage."""
