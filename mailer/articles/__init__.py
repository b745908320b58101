"""Feeds, ingestion (fetch, parse, sanitize, dedupe) and en<->ko pairing."""
