"""scripts/serve_webchat.py serves the page and its files, and nothing else of the repo."""
import threading
import urllib.error
import urllib.request
from typing import Iterator, Text, Tuple

import pytest

from scripts.serve_webchat import make_server, page_url


@pytest.fixture(scope="module")
def base_url() -> Iterator[Text]:
    server = make_server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def fetch(url: Text) -> Tuple[int, Text, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, "", b""


@pytest.mark.parametrize(
    "path, content_type, marker",
    [
        ("/", "text/html", b'id="messages"'),
        ("/index.html", "text/html", b'src="chat.js"'),
        ("/chat.js", "text/javascript", b"session_request"),
        ("/chat.css", "text/css", b".chat__unavailable"),
        ("/vendor/socket.io.min.js", "text/javascript", b"Socket.IO v4"),
    ],
)
def test_serves_the_page(base_url: Text, path: Text, content_type: Text, marker: bytes) -> None:
    status, served_type, body = fetch(base_url + path)
    assert status == 200
    assert served_type.startswith(content_type)
    assert marker in body


@pytest.mark.parametrize(
    "path", ["/vendor/", "/../credentials.yml", "/%2e%2e/credentials.yml", "/nothing.js"]
)
def test_no_listings_and_nothing_outside_webchat(base_url: Text, path: Text) -> None:
    assert fetch(base_url + path)[0] == 404


def test_page_url_carries_the_rasa_server() -> None:
    assert page_url("127.0.0.1", 8080, "http://localhost:5005") == (
        "http://127.0.0.1:8080/index.html?server=http%3A%2F%2Flocalhost%3A5005"
    )
