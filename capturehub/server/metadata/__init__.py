"""Capture metadata: which value of each metadata key a capture has, and finding captures by it."""
