"""Test suite; a package so tests can `from tests.realtools import ...`."""
