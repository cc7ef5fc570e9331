"""Every port of the application, one module per feature; features import ports, never each other's internals."""
