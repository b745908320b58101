"""Subscribers: the model, subscribe/confirm/preferences/unsubscribe, tokens, import/export."""
