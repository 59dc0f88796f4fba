"""Metrics and judges."""
