"""Benchmarks: speed and memory figures reported in the README (not timed unit tests)."""
