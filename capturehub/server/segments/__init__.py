"""Segments ("label relationships"): labelled sample ranges of captures, and segmenters."""
