"""In-memory twins of every port: complete implementations, used by unit tests and offline runs."""
