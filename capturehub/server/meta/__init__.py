"""Routes about the server itself: version, health, and what the SensiML SDK asks on connect."""
