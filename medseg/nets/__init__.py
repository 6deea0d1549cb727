"""Encoder-decoder networks with per-site attention placement."""
