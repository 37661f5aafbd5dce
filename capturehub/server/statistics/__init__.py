"""Per-capture statistics (wire-api §7) and the project summary: counts, never row dumps."""
