"""The dashboard: a web page the CC serves itself (docs/dashboard.md)."""
