"""Authentication: who is calling."""
