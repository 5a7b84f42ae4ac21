"""Deterministic, realistic mock incident bundles for evaluating RCA systems."""
