"""The outgoing message and its senders (SendGrid, outbox, console); proofs and transactional mail."""
