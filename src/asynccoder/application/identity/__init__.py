"""Identity use cases: registration, sessions, tokens, profiles, user administration."""
