"""Language models: the provider-neutral port and what uses it."""
