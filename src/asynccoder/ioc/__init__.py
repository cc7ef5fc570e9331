"""Composition root: settings and the dishka container."""
