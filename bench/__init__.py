"""Benchmarks: each prints medians and its ratio to a baseline measured in the same run (README.md)."""
