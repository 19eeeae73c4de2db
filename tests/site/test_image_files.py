"""Images for models that need uploaded files: limits, data URIs, the job's flag
(site/image_files.py, site/create_job.py)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lmarena_bridge.config.model import BridgeConfig, ModelTarget, Settings
from lmarena_bridge.errors import BridgeError, InvalidRequest
from lmarena_bridge.protocol.openai import ChatCompletionRequest
from lmarena_bridge.protocol.worker import AttachmentPayload
from lmarena_bridge.site.create_job import CreateStrategy
from lmarena_bridge.site.image_files import (
    MAX_UPLOAD_BYTES,
    ImageTooLarge,
    UnsupportedImage,
    checked_type,
    data_uri_bytes,
    sniff,
    upload_name,
    upload_payload,
    uploaded_attachment,
)

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
                       "60e6kgAAAABJRU5ErkJggg==")
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF"
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 "
GIF = b"GIF89a\x01\x00"
VISION_ID = "0f8e7d6c-5b4a-4392-8170-6a5b4c3d2e1f"
TEXT_ID = "e2d9d353-6dbe-4414-bf87-bd289d523726"


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


@pytest.mark.parametrize(("data", "mime"), [
    (PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp"), (GIF, None), (b"", None),
    (b"RIFF\x00\x00\x00\x00WAVE", None),
])
def test_sniff(data: bytes, mime: str | None) -> None:
    assert sniff(data) == mime


def test_the_type_comes_from_the_bytes() -> None:
    assert checked_type(JPEG, "image/png", "image 1") == "image/jpeg"
    with pytest.raises(UnsupportedImage) as caught:
        checked_type(GIF, "image/gif", "image 2 of the conversation")
    message = caught.value.message
    assert "PNG, JPEG or WebP images of at most 15 MB" in message
    assert "image 2 of the conversation is image/gif" in message
    assert caught.value.status == 400 and caught.value.param == "messages"


def test_the_size_limit_is_named() -> None:
    big = PNG + b"\0" * MAX_UPLOAD_BYTES
    with pytest.raises(ImageTooLarge) as caught:
        checked_type(big, "image/png", "image 1")
    assert "at most 15 MB" in caught.value.message and caught.value.code == "image_too_large"
    # A base64 payload that big is refused before it is decoded.
    with pytest.raises(ImageTooLarge):
        data_uri_bytes(data_uri(big), "image 1")


@pytest.mark.parametrize(("uri", "declared", "data"), [
    (data_uri(PNG), "image/png", PNG),
    ("data:image/png;name=x.png;base64," + base64.b64encode(PNG).decode(), "image/png", PNG),
    ("data:image/svg+xml,%3Csvg%3E", "image/svg+xml", b"<svg>"),
    ("DATA:IMAGE/JPEG;BASE64," + base64.b64encode(JPEG).decode(), "image/jpeg", JPEG),
])
def test_data_uris(uri: str, declared: str, data: bytes) -> None:
    assert data_uri_bytes(uri, "image 1") == (declared, data)


@pytest.mark.parametrize("uri", ["data:image/png;base64", "data:image/png;base64,@@@", "x:y,z"])
def test_bad_data_uris(uri: str) -> None:
    with pytest.raises(InvalidRequest):
        data_uri_bytes(uri, "image 1")


def test_payload_and_answer() -> None:
    payload = upload_payload("image_1.png", "image/jpeg", JPEG)
    assert payload == {"type": "upload", "name": "image_1.jpg", "content_type": "image/jpeg",
                       "data_b64": base64.b64encode(JPEG).decode()}
    assert upload_name("noext", "image/webp") == "noext.webp"
    answer = {"name": "k/x.jpg", "contentType": "image/jpeg", "url": "https://s/k/x.jpg?sig"}
    assert uploaded_attachment(answer) == AttachmentPayload(**answer)
    for bad in ({}, {**answer, "url": "data:x"}, {**answer, "name": ""}):
        with pytest.raises(BridgeError) as caught:
            uploaded_attachment(bad)
        assert (caught.value.status, caught.value.code) == (502, "upload_failed")


def cfg(upload_images: str = "auto", available: tuple[dict[str, Any], ...] = ()) -> BridgeConfig:
    models = {"vision": VISION_ID, "text": TEXT_ID}
    return BridgeConfig(
        settings=Settings(upload_images=upload_images),  # type: ignore[arg-type]
        models={k: ModelTarget.parse(k, v) for k, v in models.items()},
        available_models=available,
    )


VISION_ENTRY = {"id": VISION_ID, "publicName": "v", "arena": "text", "capabilities": {
    "inputCapabilities": {"text": True, "image": {"requiresUpload": True}}}}


def request(model: str, image: bool = True) -> ChatCompletionRequest:
    content: list[dict[str, Any]] = [{"type": "text", "text": "what is it?"}]
    if image:
        content.append({"type": "image_url", "image_url": {"url": data_uri(PNG)}})
    return ChatCompletionRequest.model_validate(
        {"model": model, "messages": [{"role": "user", "content": content}]})


@pytest.mark.parametrize(("setting", "model", "image", "wanted"), [
    ("auto", "vision", True, True),
    ("auto", "text", True, False),  # the model list says nothing about uploads
    ("auto", "vision", False, False),  # nothing to upload
    ("always", "text", True, True),
    ("never", "vision", True, False),
])
def test_the_job_says_when_images_must_be_uploaded(setting: str, model: str, image: bool,
                                                   wanted: bool) -> None:
    job = CreateStrategy().chat_job(request(model, image), cfg(setting, (VISION_ENTRY,)))
    assert job.upload_images is wanted


def test_uploaded_files_replace_the_images_everywhere() -> None:
    job = CreateStrategy().chat_job(request("vision"), cfg(available=(VISION_ENTRY,)))
    (att,) = job.attachments()
    file = AttachmentPayload(name="k/x.png", contentType="image/png", url="https://s/k/x.png")
    done = job.with_uploads({att.url: file})
    assert done.attachments() == [file] and not done.upload_images
    assert done.attempt_payload()["body"]["userMessage"]["experimental_attachments"] == [
        file.model_dump()]
    assert done.turn_keys == job.turn_keys  # the client's own turns, for session reuse
