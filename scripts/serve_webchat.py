"""Serve the web chat page (webchat/) over HTTP, so a browser can load it next to `rasa run`.

The page is static files only; it finds the Rasa server from `?server=` in its URL, which this
script prints. Standard library only, so it runs wherever the assistant runs.

Usage: python -m scripts.serve_webchat [--host 127.0.0.1] [--port 8080] [--rasa-url http://localhost:5005]
"""
import argparse
import functools
import http.server
import logging
import urllib.parse
from pathlib import Path
from typing import Optional, Sequence

WEBCHAT_DIR = Path(__file__).resolve().parent.parent / "webchat"

logger = logging.getLogger(__name__)


class WebchatHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with a few safe defaults: no directory listings, no MIME sniffing."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".css": "text/css",
        ".html": "text/html; charset=utf-8",
    }

    def list_directory(self, path: str) -> None:  # type: ignore[override]
        self.send_error(404, "Not found")
        return None

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s - %s", self.address_string(), format % args)


def make_server(host: str, port: int, directory: Path = WEBCHAT_DIR) -> http.server.ThreadingHTTPServer:
    """A threaded server for `directory`; port 0 picks a free one (see `server.server_port`)."""
    handler = functools.partial(WebchatHandler, directory=str(directory))
    return http.server.ThreadingHTTPServer((host, port), handler)


def page_url(host: str, port: int, rasa_url: str) -> str:
    return f"http://{host}:{port}/index.html?" + urllib.parse.urlencode({"server": rasa_url})


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback only)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-url", default="http://localhost:5005", help="where `rasa run` listens")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = make_server(args.host, args.port)
    logger.info("Web chat: %s", page_url(args.host, server.server_port, args.rasa_url))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
