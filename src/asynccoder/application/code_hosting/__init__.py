"""Code hosting use cases: GitHub connections, repositories, pull requests, webhooks."""
