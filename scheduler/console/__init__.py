"""What operators look at: the metrics endpoint (and, next, the web console)."""

from scheduler.console.exporter import DeploymentCollector, metrics_registry, serve_metrics

__all__ = ["DeploymentCollector", "metrics_registry", "serve_metrics"]
