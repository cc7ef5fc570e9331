"""Code hosting adapters: GitHub through PyGithub, a local-git development host, and git transport."""
