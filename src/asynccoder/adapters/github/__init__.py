"""GitHub: the REST API through PyGithub and the OAuth web flow."""
