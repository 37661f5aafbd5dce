"""Teams, users, tokens and API keys (wire-api §2)."""
