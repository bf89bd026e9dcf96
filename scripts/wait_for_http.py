"""Wait until a URL answers 200, so that scripts start talking to a server only once it is up.

Usage: python -m scripts.wait_for_http URL [TIMEOUT_SECONDS]
"""
import sys
import time
import urllib.error
import urllib.request


def wait_for_http(url: str, timeout: float = 120.0, interval: float = 0.5) -> None:
    """Poll `url` until it answers 200; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer within {timeout:.0f} s")
        time.sleep(interval)


if __name__ == "__main__":
    wait_for_http(sys.argv[1], float(sys.argv[2]) if len(sys.argv) > 2 else 120.0)
