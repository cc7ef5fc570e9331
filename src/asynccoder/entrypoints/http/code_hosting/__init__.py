"""HTTP routes of code hosting: repositories, pull requests, GitHub webhooks."""
