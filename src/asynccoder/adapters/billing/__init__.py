"""Payment-provider adapters: Stripe on the official SDK and an in-memory twin."""
