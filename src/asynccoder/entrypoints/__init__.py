"""HTTP app, worker and CLI: the ways into the application."""
