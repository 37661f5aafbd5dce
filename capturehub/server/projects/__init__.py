"""Projects: a team's named collections of captures (wire-api §4)."""
