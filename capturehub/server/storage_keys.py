"""Blob keys, made from uuids only (never from a name a user typed)."""

from __future__ import annotations


def project_prefix(project_uuid: str) -> str:
    return f"captures/{project_uuid}/"


def original_key(project_uuid: str, capture_uuid: str, upload_id: str) -> str:
    # upload_id makes every stored version distinct, so replacing a capture's file never
    # overwrites bytes that a concurrent reader or a crash recovery may still need.
    return f"captures/{project_uuid}/{capture_uuid}/original-{upload_id}"


def columnar_key(project_uuid: str, capture_uuid: str, upload_id: str) -> str:
    return f"captures/{project_uuid}/{capture_uuid}/columnar-{upload_id}.arrow"
