"""Tests of the Graph and secrets adapters against the TLS fakes."""
