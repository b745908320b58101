"""Jinja2 -> MJML -> HTML (and a text part), once per edition. Rendering returns strings; it never sends."""
