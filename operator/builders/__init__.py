"""Desired objects built from specs: pure functions, no API calls (unit-testable)."""
