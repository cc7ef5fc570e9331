"""Stripe: the payment gateway and Stripe's webhook format."""
