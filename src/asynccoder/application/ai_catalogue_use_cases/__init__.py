"""Use cases of the model catalogue, model selection, users' own keys and usage."""
