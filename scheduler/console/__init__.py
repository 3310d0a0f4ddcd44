"""What operators look at: the metrics endpoint and the web console."""

from scheduler.console.auth import Users
from scheduler.console.exporter import DeploymentCollector, metrics_registry, serve_metrics
from scheduler.console.web import Console, console_app, serve_console

__all__ = [
    "Console",
    "DeploymentCollector",
    "Users",
    "console_app",
    "metrics_registry",
    "serve_console",
    "serve_metrics",
]
