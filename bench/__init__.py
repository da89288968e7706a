"""Benchmarks: each prints medians and its ratio against a baseline measured in the same run (see README.md)."""
