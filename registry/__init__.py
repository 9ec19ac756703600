"""The MLflow model registry: the one place that reads and writes registered bundles.

Training registers and promotes through it, serving and batch scoring load through it; neither
imports the other.
"""
