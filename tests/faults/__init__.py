"""Fault tests: real processes, real Redis restarts; nothing lost, nothing stuck."""
