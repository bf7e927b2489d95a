"""Generates the chart's values schema, alert rules and Grafana dashboards: `python -m deploy.chartgen`."""
