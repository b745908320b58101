"""SendGrid Event Webhook: verify, store, deduplicate, apply."""
