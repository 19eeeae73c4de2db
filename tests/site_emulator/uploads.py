"""Models and files as the 2026 site serves them (SITE_2026.md §4, §5).

On arena.ai (``arena_routes``):

- ``GET /nextjs-api/model-catalog``: ``[{arena, models, complete}]`` (catalog.py); 404 when
  ``state.catalog_available`` is False.
- ``GET /_next/static/chunks/<name>.js``: the page's script chunks (``CHUNKS``, loaded by
  script tags). ``ACTIONS_CHUNK`` holds ``createServerReference)("<42-hex id>",…,"<name>")``
  for the upload actions, unless ``state.upload_actions_advertised`` is False.
- ``POST <any page>`` with ``Next-Action: <id>`` (``server_action``): body a JSON array of
  the arguments, answer RSC lines whose ``1:`` line holds the JSON.
  ``generateUploadUrl(fileName, mimeType)`` → ``{success, data: {uploadUrl, key}}`` (a
  presigned PUT URL, ``state.upload_url_lifetime``); ``getSignedUrl(key)`` →
  ``{data: {url}}`` (a GET URL of the uploaded object, ``state.signed_url_lifetime``).
  An unknown id → 404 "Server action not found.".
- ``GET /nextjs-api/images/<n>.png``: image answers with ``state.image_urls == "site"``;
  only with the auth cookie.

On ``uploads.emulator.test`` (``create_store_app``): ``PUT``/``GET`` of presigned URLs of
``state.store`` (expired or forged → 403 S3 XML; a PUT must carry the Content-Type given to
generateUploadUrl; over 15 MB → 413), CORS for https://arena.ai only. Logged in
``state.asset_requests`` with the chunk downloads.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .catalog import model_catalog, requires_upload
from .hosts import ARENA_ORIGIN
from .ids import uuid7
from .records import record
from .state import EmulatorState
from .store import MAX_UPLOAD_BYTES, UPLOAD_TYPES, StoredObject

UPLOAD_ACTION = "generateUploadUrl"
SIGNED_URL_ACTION = "getSignedUrl"
ACTION_IDS = {
    "updateTouConsent": "7fded79fae07b6c1f67b30411d04e80f0a7741c25d",
    UPLOAD_ACTION: "7f11589884b5feb24a55370f655547bb22863fd85a",
    SIGNED_URL_ACTION: "7fb995b0c633d543f74baa13e755b3c46c1f13ab19",
    "getProxyImage": "7f126232f9b5d1d4f89d52e3ddf442be1718de79f9",
}
CHUNK_DIR = "/_next/static/chunks/"
ACTIONS_CHUNK = f"{CHUNK_DIR}7551-c7019e0865514821.js"
MAIN_CHUNK = f"{CHUNK_DIR}main-app-2b5c8d1e0f3a4b6c.js"
CHUNKS = (MAIN_CHUNK, ACTIONS_CHUNK)
CATALOG_PATH = "/nextjs-api/model-catalog"
RSC_TYPE = "text/x-component"
_SAFE_NAME = re.compile(r"[^\w.\-]+")


def chunk_tags() -> str:
    return "".join(f'<script src="{src}" async></script>' for src in CHUNKS)


def chunk_source(state: EmulatorState, path: str) -> str | None:
    """A webpack chunk as Next.js ships it; module factories that never run in the page."""
    if path == MAIN_CHUNK:
        return ('(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[1792],{8812:'
                '(e,t,n)=>{"use strict";n.d(t,{callServer:()=>r});let r=()=>null}}]);')
    if path != ACTIONS_CHUNK:
        return None
    names = list(ACTION_IDS) if state.upload_actions_advertised else [
        n for n in ACTION_IDS if n not in (UPLOAD_ACTION, SIGNED_URL_ACTION)]
    refs = ",".join(
        f'a{i}=(0,r.createServerReference)("{ACTION_IDS[n]}",r.callServer,void 0,'
        f'r.findSourceMapURL,"{n}")' for i, n in enumerate(names))
    exports = ",".join(f"{n}:()=>a{i}" for i, n in enumerate(names))
    return ('"use strict";(self.webpackChunk_N_E=self.webpackChunk_N_E||[]).push([[7551],'
            f'{{40511:(e,t,n)=>{{n.d(t,{{{exports}}});var r=n(35024);let {refs}}}}}]);')


def rsc(value: Any) -> Response:
    """A server action's answer: the RSC rows, ``1:`` holding the returned value."""
    lines = ['0:{"a":"$@1","f":"","b":"emulator-build"}',
             "1:" + json.dumps(value, separators=(",", ":"))]
    return Response("\n".join(lines) + "\n", media_type=RSC_TYPE)


async def server_action(state: EmulatorState, request: Request) -> Response:
    """``POST <page>`` with ``Next-Action``; other POSTs to a page get 405."""
    raw = await request.body()
    try:
        args: Any = json.loads(raw) if raw else None
    except ValueError:
        args = None
    rec = record(state, request, body=args, size=len(raw))
    action = request.headers.get("next-action")
    name = next((n for n, i in ACTION_IDS.items() if i == action), None)
    if action is None:
        response: Response = PlainTextResponse("Method Not Allowed", status_code=405)
    elif name is None:
        response = PlainTextResponse("Server action not found.", status_code=404,
                                     headers={"x-nextjs-action-not-found": "1"})
    elif not isinstance(args, list):
        response = PlainTextResponse("Invalid action arguments", status_code=400)
    elif rec.user_id is None:
        response = rsc({"success": False, "error": "Unauthorized"})
    elif name == UPLOAD_ACTION:
        response = rsc(_upload_url(state, args, rec.user_id))
    elif name == SIGNED_URL_ACTION:
        response = rsc(_signed_url(state, args, rec.user_id))
    else:
        response = rsc({"success": True})
    rec.status = response.status_code
    return response


def _upload_url(state: EmulatorState, args: list[Any], user_id: str) -> dict[str, Any]:
    if len(args) < 2 or not all(isinstance(a, str) for a in args[:2]):
        return {"success": False, "error": "fileName and mimeType are required"}
    file_name, mime = args[0], args[1]
    if mime not in UPLOAD_TYPES:
        return {"success": False, "error": f"Unsupported file type: {mime}"}
    key = f"{uuid7()}/{_SAFE_NAME.sub('_', file_name)[:100] or 'file'}"
    state.store.pending[key] = (mime, user_id)
    url = state.store.presign("PUT", key, state.upload_url_lifetime)
    return {"success": True, "data": {"uploadUrl": url, "key": key}}


def _signed_url(state: EmulatorState, args: list[Any], user_id: str) -> dict[str, Any]:
    key = args[0] if args and isinstance(args[0], str) else ""
    found = state.store.objects.get(key)
    if found is None or found.owner != user_id:
        return {"success": False, "error": "File not found"}
    return {"success": True,
            "data": {"url": state.store.presign("GET", key, state.signed_url_lifetime)}}


def attachment_refusal(state: EmulatorState, body: dict[str, Any]) -> Response | None:
    """A model that ``requiresUpload`` sees only files of the site's store (400 otherwise)."""
    if not requires_upload(state.model(body.get("modelAId"))):
        return None
    for item in body["userMessage"]["experimental_attachments"]:
        if state.store.readable(item["url"]) is None:
            return JSONResponse({"error": f"Attachment {item['name']!r} must be uploaded "
                                          "before it is sent to this model"}, status_code=400)
    return None


def arena_routes(state: EmulatorState) -> list[Route]:
    async def catalog(request: Request) -> Response:
        rec = record(state, request, body=None, size=0)
        if not state.catalog_available:
            response: Response = JSONResponse({"error": "Not Found"}, status_code=404)
        else:
            response = JSONResponse(model_catalog(state.models, state.catalog_extra))
        rec.status = response.status_code
        return response

    async def chunk(request: Request) -> Response:
        rec = record(state, request, body=None, size=0, log=state.asset_requests)
        source = chunk_source(state, request.url.path)
        response: Response = (
            PlainTextResponse("Not Found", status_code=404) if source is None
            else Response(source, media_type="application/javascript",
                          headers={"cache-control": "public, max-age=31536000, immutable"}))
        rec.status = response.status_code
        return response

    async def generated(request: Request) -> Response:
        rec = record(state, request, body=None, size=0)
        found = state.store.objects.get(f"generated/{request.path_params['name']}")
        if rec.user_id is None:
            response: Response = JSONResponse({"error": "Unauthorized"}, status_code=401)
        elif found is None:
            response = JSONResponse({"error": "Not Found"}, status_code=404)
        else:
            response = Response(found.data, media_type=found.content_type)
        rec.status = response.status_code
        return response

    return [
        Route(CATALOG_PATH, catalog),
        Route(CHUNK_DIR + "{name:path}", chunk),
        Route("/nextjs-api/images/{name}", generated),
    ]


def create_store_app(state: EmulatorState) -> Starlette:
    async def obj(request: Request) -> Response:
        raw = await request.body() if request.method == "PUT" else b""
        rec = record(state, request, body=None, size=len(raw), log=state.asset_requests)
        response = _store_answer(state, request, request.path_params["key"], raw)
        rec.status = response.status_code
        return response

    return Starlette(
        routes=[Route("/{key:path}", obj, methods=["GET", "PUT"])],
        middleware=[Middleware(CORSMiddleware, allow_origins=[ARENA_ORIGIN],
                               allow_methods=["GET", "PUT"], allow_headers=["content-type"],
                               expose_headers=["etag"], max_age=600)],
    )


def _store_answer(state: EmulatorState, request: Request, key: str, raw: bytes) -> Response:
    store = state.store
    problem = store.check(request.method, key, request.url.query)
    if problem is not None:
        return _s3_error(403, *problem.split(": ", 1))
    if request.method == "GET":
        found = store.objects.get(key)
        if found is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return Response(found.data, media_type=found.content_type)
    pending = store.pending.get(key)
    if pending is None:
        return _s3_error(403, "AccessDenied", "No upload was prepared for this key")
    mime, owner = pending
    if request.headers.get("content-type", "").split(";")[0].strip() != mime:
        return _s3_error(403, "SignatureDoesNotMatch", f"Content-Type must be {mime}")
    if len(raw) > MAX_UPLOAD_BYTES:
        return _s3_error(413, "EntityTooLarge", "Your proposed upload exceeds the maximum size")
    store.objects[key] = StoredObject(key=key, content_type=mime, data=raw, owner=owner)
    del store.pending[key]
    return Response(status_code=200, headers={"etag": f'"{len(raw):x}"'})


def _s3_error(status: int, code: str, message: str) -> Response:
    xml = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
           f"<Message>{message}</Message></Error>")
    return Response(xml, status_code=status, media_type="application/xml")
