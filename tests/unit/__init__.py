"""Unit tests for pure library code and test helpers."""
