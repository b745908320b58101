"""`mailer demo`: the whole job end to end on the embedded default."""
