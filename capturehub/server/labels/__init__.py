"""Segment labels and capture metadata keys, with their values (wire-api §6)."""
