"""Process-level adapters: the system clock and identifier generation."""
