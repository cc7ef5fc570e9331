"""Every port of the application, one module per feature.

Features import ports, never each other's internals.
"""
