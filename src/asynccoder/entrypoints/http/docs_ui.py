"""The interactive API docs, served entirely from an installed package: they work offline and are pinned.

Litestar's render plugins load their scripts from CDNs by default (unpinned "latest" for some), so a machine
without internet shows a blank page and the page runs whatever the CDN serves today. The assets come from
``openapi-ui-bundles`` (Swagger UI 5 and ReDoc, pinned in ``constraints.txt``) under ``/schema/assets``.
"""

from __future__ import annotations

from litestar import Router
from litestar.datastructures import CacheControlHeader
from litestar.openapi.plugins import OpenAPIRenderPlugin, RedocRenderPlugin, SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from openapi_ui_bundles import redoc, swagger_ui

ASSETS = "/schema/assets"
_FAVICON = f"<link rel='icon' type='image/png' href='{ASSETS}/swagger/favicon-32x32.png'>"


def docs_render_plugins() -> list[OpenAPIRenderPlugin]:
    """Swagger UI at ``/schema`` and ``/schema/swagger``, ReDoc at ``/schema/redoc``; all assets local."""
    return [
        SwaggerRenderPlugin(
            path=["/", "/swagger"],
            js_url=f"{ASSETS}/swagger/swagger-ui-bundle.js",
            css_url=f"{ASSETS}/swagger/swagger-ui.css",
            standalone_preset_js_url=f"{ASSETS}/swagger/swagger-ui-standalone-preset.js",
            favicon=_FAVICON,
        ),
        RedocRenderPlugin(js_url=f"{ASSETS}/redoc/redoc.standalone.js", google_fonts=False, favicon=_FAVICON),
    ]


def docs_assets_router() -> Router:
    """The docs' static files (never under the API guard; cached by browsers for a day)."""
    return Router(
        path=ASSETS,
        route_handlers=[
            create_static_files_router(
                path="/swagger",
                directories=[swagger_ui.static_path],
                name="docs-swagger",
                cache_control=CacheControlHeader(max_age=86_400, public=True),
            ),
            create_static_files_router(
                path="/redoc",
                directories=[redoc.static_path],
                name="docs-redoc",
                cache_control=CacheControlHeader(max_age=86_400, public=True),
            ),
        ],
    )
