"""HTTP routes of identity: sessions, tokens, the caller's account, user admin."""
