"""HTTP routes of the AI catalogue: models, prices, provider configs, keys, usage."""
