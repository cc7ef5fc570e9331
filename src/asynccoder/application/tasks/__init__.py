"""Task use cases and the engine that runs tasks."""
