"""Incident-bundle generator. The public face is :mod:`rca.seed.mock_incident_generator`."""
