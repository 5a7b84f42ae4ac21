"""Speed-and-scale benchmarks of the bundle generator (issue 6). Run ``python -m benchmarks``."""
