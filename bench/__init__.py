"""Benchmarks (``make bench``): offline-plan time and the stock probe."""
