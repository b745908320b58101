"""Senders (SendGrid, outbox, console), the delivery ledger, batching and the send tasks."""
