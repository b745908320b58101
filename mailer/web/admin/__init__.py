"""The editor's desk under /admin: accounts, sessions, and the pages editors work in."""
