"""Thin trigger adapters: translate a trigger into one service call, nothing more."""
