"""``project/{p}/label/...`` and ``project/{p}/metadata/...``: one set of routes per kind.

The kind is a literal path segment, not a path parameter, so that ``project/{p}/capture/``
and the other project routes are never mistaken for a kind.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from capturehub.server.auth.deps import Context, CurrentCaller
from capturehub.server.bodies import GuardedRoute
from capturehub.server.errors import conflict
from capturehub.server.labels import service
from capturehub.server.labels.schemas import (
    KINDS,
    Kind,
    LabelCreate,
    LabelUpdate,
    ValueCreate,
    ValueUpdate,
    label_json,
    value_json,
)
from capturehub.server.projects.service import get_project

NAME_TAKEN = conflict(
    "The project already has a label or metadata key with this name (names are unique across both)."
)
VALUE_TAKEN = conflict("The label already has this value.")


def _kind_router(kind: Kind) -> APIRouter:
    router = APIRouter(route_class=GuardedRoute, tags=["labels and metadata keys"])
    base = f"/project/{{project_uuid}}/{kind.path}/"
    one = base + "{label_uuid}/"
    values = one + "labelvalue/"
    one_value = values + "{value_uuid}/"
    noun = kind.noun

    @router.get(base, summary=f"Every {noun} of the project, with its values")
    def list_labels(project_uuid: str, caller: CurrentCaller, context: Context) -> Any:
        with context.db.read() as session:
            project = get_project(session, caller, project_uuid)
            return [label_json(*row) for row in service.list_labels(session, project, kind)]

    @router.post(
        base, status_code=201, summary=f"Create a {noun} (and its values)", responses=NAME_TAKEN
    )
    def create_label(
        project_uuid: str, body: LabelCreate, caller: CurrentCaller, context: Context
    ) -> Any:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            label = service.create_label(session, project, kind, body)
            return label_json(label, service.values_of(session, [label.id])[label.id])

    @router.get(one, summary=f"One {noun}")
    def get_label(
        project_uuid: str, label_uuid: str, caller: CurrentCaller, context: Context
    ) -> Any:
        with context.db.read() as session:
            project = get_project(session, caller, project_uuid)
            label = service.get_label(session, project, kind, label_uuid)
            return label_json(label, service.values_of(session, [label.id])[label.id])

    @router.put(one, summary=f"Change a {noun}", responses=NAME_TAKEN)
    @router.patch(one, summary=f"Change some fields of a {noun}", responses=NAME_TAKEN)
    def update_label(
        project_uuid: str,
        label_uuid: str,
        body: LabelUpdate,
        caller: CurrentCaller,
        context: Context,
    ) -> Any:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            label = service.update_label(
                session, service.get_label(session, project, kind, label_uuid), body
            )
            return label_json(label, service.values_of(session, [label.id])[label.id])

    @router.delete(
        one, status_code=204, summary=f"Delete a {noun}, its values and every use of them"
    )
    def delete_label(
        project_uuid: str, label_uuid: str, caller: CurrentCaller, context: Context
    ) -> Response:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            service.delete_label(session, service.get_label(session, project, kind, label_uuid))
        return Response(status_code=204)

    @router.get(values, summary=f"The values of a {noun}")
    def list_values(
        project_uuid: str, label_uuid: str, caller: CurrentCaller, context: Context
    ) -> Any:
        with context.db.read() as session:
            project = get_project(session, caller, project_uuid)
            label = service.get_label(session, project, kind, label_uuid)
            return [value_json(v) for v in service.values_of(session, [label.id])[label.id]]

    @router.post(values, status_code=201, summary=f"Add a value to a {noun}", responses=VALUE_TAKEN)
    def create_value(
        project_uuid: str,
        label_uuid: str,
        body: ValueCreate,
        caller: CurrentCaller,
        context: Context,
    ) -> Any:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            label = service.get_label(session, project, kind, label_uuid)
            return value_json(service.create_value(session, label, body))

    @router.get(one_value, summary=f"One value of a {noun}")
    def get_value(
        project_uuid: str,
        label_uuid: str,
        value_uuid: str,
        caller: CurrentCaller,
        context: Context,
    ) -> Any:
        with context.db.read() as session:
            project = get_project(session, caller, project_uuid)
            label = service.get_label(session, project, kind, label_uuid)
            return value_json(service.get_value(session, label, value_uuid))

    @router.put(one_value, summary=f"Change a value of a {noun}", responses=VALUE_TAKEN)
    @router.patch(one_value, summary=f"Change a value of a {noun}", responses=VALUE_TAKEN)
    def update_value(
        project_uuid: str,
        label_uuid: str,
        value_uuid: str,
        body: ValueUpdate,
        caller: CurrentCaller,
        context: Context,
    ) -> Any:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            label = service.get_label(session, project, kind, label_uuid)
            value = service.get_value(session, label, value_uuid)
            service.update_value(session, label, value, body)
            return value_json(value)

    @router.delete(
        one_value, status_code=204, summary=f"Delete a value of a {noun} and every use of it"
    )
    def delete_value(
        project_uuid: str,
        label_uuid: str,
        value_uuid: str,
        caller: CurrentCaller,
        context: Context,
    ) -> Response:
        with context.db.session() as session:
            project = get_project(session, caller, project_uuid)
            label = service.get_label(session, project, kind, label_uuid)
            service.delete_value(session, service.get_value(session, label, value_uuid))
        return Response(status_code=204)

    return router


router = APIRouter(route_class=GuardedRoute)
for _kind in KINDS:
    router.include_router(_kind_router(_kind))
