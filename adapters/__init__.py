"""Importers that turn external data sets into rollcure raw tables."""
