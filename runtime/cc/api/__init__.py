"""The client REST API."""
