"""Entities, value objects and business rules. Standard library only."""
