"""Metrics, result tables, statistics, plots."""
