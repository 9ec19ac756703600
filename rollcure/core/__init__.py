"""The base layer: domain vocabulary and maths, the action catalogue, the input-error type and raw-table I/O.

Everything else imports from here; this package imports nothing of the project.
"""
