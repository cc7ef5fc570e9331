"""Ports of the model catalogue, users' own keys and usage.

Kept apart from the use cases (``ai_catalogue_use_cases``), which import the unit of work that names these.
"""
