"""Captures: upload, list, read, update, delete and download recordings (wire-api §5)."""
