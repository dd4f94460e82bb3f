"""Transaction cost analysis: the report's figures (report.py) and the chart of an execution
(chart.py, which imports matplotlib only when a chart is drawn)."""

from .report import report

__all__ = ["report"]
