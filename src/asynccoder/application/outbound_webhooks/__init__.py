"""Outbound webhooks: endpoints, the outbox every notable change writes to, and signed delivery."""
