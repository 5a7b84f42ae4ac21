"""Specs that cannot drift: contracts equal the models, bundles conform, the quickstart runs."""
