"""What the pages show of a project's dataset versions: the list on the project page (newest
first), one version's counts, what differs between two, and a version's filter in the
table's words. The versions
themselves are made, read and deleted by capturehub/server/versions/service.py."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from capturehub.server.auth.service import Caller
from capturehub.server.metadata.filters import PREFIX
from capturehub.server.models import DatasetVersion, Project
from capturehub.server.projects.service import get_project
from capturehub.server.versions import diff
from capturehub.server.versions import service as versions

SHORT_HASH = 12
_SYMBOLS = {"": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "in": " in ", "exists": " "}
_WORDS = {"name": "name is ", "name__contains": "name contains ", "task_state": "state "}


def filter_words(where: dict[str, Any] | None) -> str:
    """``{"name__contains": "ROW", "metadata.Age__gte": "30"}`` as "name contains ROW;
    Age>=30" (the table's own syntax for what it can filter)."""
    if not where:
        return "the whole project"
    parts = []
    for key, value in where.items():
        if key.startswith(PREFIX):
            name, separator, operator = key[len(PREFIX) :].rpartition("__")
            if not separator or not operator or operator not in _SYMBOLS:
                name, operator = key[len(PREFIX) :], ""
            if operator == "exists":
                parts.append(
                    f"{name} {'set' if str(value).lower() in ('true', '1', 'yes') else 'not set'}"
                )
            else:
                parts.append(f"{name}{_SYMBOLS[operator]}{value}")
        else:
            parts.append(f"{_WORDS.get(key, key + ' ')}{value}")
    return "; ".join(parts)


@dataclass
class VersionRow:
    version: DatasetVersion

    @property
    def short_hash(self) -> str:
        return self.version.content_hash[:SHORT_HASH]

    @property
    def filter(self) -> str:
        return filter_words(self.version.where)

    @property
    def label_rows(self) -> list[tuple[str, str, int]]:
        """(label, value, segments) for every label value the version's segments hold."""
        return [
            (label, value, int(count))
            for label, counts in sorted((self.version.label_counts or {}).items())
            for value, count in sorted(counts.items())
        ]


def project_versions(session: Session, caller: Caller, project_uuid: str) -> list[VersionRow]:
    """The project's versions, newest first."""
    found = versions.list_versions(session, caller, project_uuid)  # oldest first
    return [VersionRow(version) for version in reversed(found)]


@dataclass
class VersionView:
    project: Project
    row: VersionRow


def load_version(session: Session, caller: Caller, project_uuid: str, version: str) -> VersionView:
    project = get_project(session, caller, project_uuid)
    return VersionView(
        project=project,
        row=VersionRow(versions.get_version(session, caller, project_uuid, version)),
    )


# A diff lists at most this many captures per kind on the page (the API has them all).
MAX_LISTED = 500


def change_words(item: dict[str, Any]) -> list[str]:
    """What changed in one capture of a diff, in words: "file replaced", "Subject: S01 →
    S02", "segments: 3 → 4"."""
    words = []
    if "file" in item:
        words.append(
            f"file replaced (sha256 {item['file']['before'][:12]} → {item['file']['after'][:12]})"
        )
    if "renamed" in item:
        words.append(f"renamed from {item['renamed']['before']}")
    if "metadata" in item:
        before, after = item["metadata"]["before"], item["metadata"]["after"]
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                words.append(f"{key}: {before.get(key, '(none)')} → {after.get(key, '(none)')}")
    if "segments" in item:
        before, after = item["segments"]["before"], item["segments"]["after"]
        if len(before) == len(after):
            words.append(f"segments changed ({len(after)})")
        else:
            words.append(f"segments: {len(before)} → {len(after)}")
    return words


@dataclass
class DiffView:
    project: Project
    old: DatasetVersion
    new: DatasetVersion
    result: dict[str, Any]

    @property
    def label_rows(self) -> list[tuple[str, str, int, int]]:
        """(label, value, segments in old, segments in new) for every value either holds."""
        before = self.result["labels"]["from"]
        after = self.result["labels"]["to"]
        pairs = sorted(
            {(label, value) for side in (before, after) for label in side for value in side[label]}
        )
        return [
            (label, value, before.get(label, {}).get(value, 0), after.get(label, {}).get(value, 0))
            for label, value in pairs
        ]

    @property
    def changed(self) -> list[tuple[dict[str, Any], list[str]]]:
        return [(item, change_words(item)) for item in self.result["changed"][:MAX_LISTED]]


def load_diff(session: Session, caller: Caller, project_uuid: str, old: str, new: str) -> DiffView:
    project = get_project(session, caller, project_uuid)
    first = versions.get_version(session, caller, project_uuid, old)
    second = versions.get_version(session, caller, project_uuid, new)
    return DiffView(project, first, second, diff.diff(session, first, second))
