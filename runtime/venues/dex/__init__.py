"""Automated market makers' pricing: the exact integer math the pool contracts run."""
