"""Benchmarks: each script prints one JSON line of its figures."""
