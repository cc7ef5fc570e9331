"""Credits, plans, subscriptions and the payment-provider port."""
