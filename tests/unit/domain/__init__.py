"""Tests of the plain-Python domain package (no Azure, no network)."""
