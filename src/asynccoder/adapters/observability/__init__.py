"""Observability adapters: Prometheus metrics, OpenTelemetry tracing and error tracking (each optional
library imported only when its feature is on)."""
