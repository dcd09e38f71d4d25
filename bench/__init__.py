"""Benchmarks. Each prints the project's figure next to a baseline measured in the same run, and their ratio."""
