"""HTTP routes of billing: plans, packages, checkout, credits, invoices, webhooks."""
