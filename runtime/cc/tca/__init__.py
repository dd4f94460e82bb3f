"""Transaction cost analysis: the report and its figures (figures.py), and the chart of an
execution (chart.py, which imports matplotlib only when a chart is drawn)."""

from .figures import report

__all__ = ["report"]
