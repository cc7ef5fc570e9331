"""SQLAlchemy persistence for SQLite and PostgreSQL."""
