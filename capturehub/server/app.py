"""Builds the ASGI application: routes of every feature, error handlers and middleware, around
the process that ``runtime.py`` composes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from capturehub._version import __version__
from capturehub.server.allow import install_allow_header
from capturehub.server.auth.routes import router as auth_router
from capturehub.server.captures.routes import router as captures_router
from capturehub.server.configurations.routes import router as configurations_router
from capturehub.server.context import AppContext
from capturehub.server.docs import install_docs
from capturehub.server.edge_impulse.routes import keys_router as edge_impulse_keys_router
from capturehub.server.edge_impulse.routes import router as edge_impulse_router
from capturehub.server.errors import install_error_handlers
from capturehub.server.guard import RequestGuard
from capturehub.server.labels.routes import router as labels_router
from capturehub.server.meta.routes import router as meta_router
from capturehub.server.metadata.routes import router as metadata_router
from capturehub.server.openapi import install_openapi
from capturehub.server.paths import NormalizePath
from capturehub.server.plots.routes import router as plots_router
from capturehub.server.projects.routes import router as projects_router
from capturehub.server.proxies import TrustedProxies
from capturehub.server.recording.mqtt.routes import router as devices_router
from capturehub.server.recording.routes import router as recording_router
from capturehub.server.recording.stream import router as recording_stream_router
from capturehub.server.runtime import Runtime, build_context
from capturehub.server.security_headers import SecurityHeaders
from capturehub.server.segments.routes import router as segments_router
from capturehub.server.settings import Settings
from capturehub.server.statistics.routes import router as statistics_router
from capturehub.server.timeouts import BodyTimeout
from capturehub.server.ui.routes import install_ui
from capturehub.server.versions.routes import router as versions_router

# Order matters: the metadata router's `project/{p}/capture/metadata/...` query route must be
# matched before the captures router's `project/{p}/capture/{capture_uuid}/...` routes.
ROUTERS = [
    meta_router,
    auth_router,
    projects_router,
    labels_router,
    metadata_router,
    segments_router,
    configurations_router,
    statistics_router,
    plots_router,
    captures_router,
    devices_router,  # devices recording over MQTT (docs/recording.md#mqtt)
    edge_impulse_router,  # Edge Impulse's API (docs/edge-impulse.md)
    versions_router,
    edge_impulse_keys_router,
    recording_router,  # live recording (docs/recording.md)
]


def create_app(
    settings: Settings | None = None, context: AppContext | None = None, *, migrate: bool = True
) -> FastAPI:
    """The ASGI app. ``migrate=False`` when the caller has already brought the database to the
    newest schema (``capturehub serve`` does, to create the first user before serving)."""
    settings = settings or (context.settings if context else Settings())
    runtime = Runtime(context or build_context(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The threads that run sync routes and dependencies: as many as the database pool is
        # sized for (settings.effective_database_pool_size), so none waits for a connection.
        to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        runtime.start(migrate=migrate)
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(
        title="capturehub",
        version=__version__,
        description="Stores, processes and serves sensor-data captures. Wire-compatible with "
        "the SensiML Python SDK.",
        lifespan=lifespan,
        redirect_slashes=False,
        docs_url=None,  # served locally by install_docs
        redoc_url=None,
    )
    app.state.context = runtime.context
    install_error_handlers(app)
    install_allow_header(app)
    for router in ROUTERS:
        app.include_router(router)
    install_openapi(app)
    install_docs(app)
    install_ui(app)  # the web UI's pages at / and their files at /static/
    app.include_router(recording_stream_router)  # a recording's WebSocket (docs/recording.md)
    app.add_middleware(RequestGuard)
    app.add_middleware(NormalizePath, prefix=settings.normalized_root_path)
    # A stalled body is timed wherever it is read (routes read their own: server/bodies.py).
    app.add_middleware(BodyTimeout, seconds=settings.body_timeout_seconds)
    # Every answer gets the headers, the guard's and the server's errors included.
    app.add_middleware(SecurityHeaders)
    # Outermost: everything inside sees the client's address, not its proxy's.
    app.add_middleware(TrustedProxies, trusted=settings.trusted_proxy_networks)
    return app
