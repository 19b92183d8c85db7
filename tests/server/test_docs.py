"""``/docs`` works without internet: the page and everything it loads come from the server
(issue 12, point 7)."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest

import goldenpath
from tests.server.conftest import serving

CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
}


class References(HTMLParser):
    """Every URL a page makes the browser load: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "iframe": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home: Path = tmp_path_factory.mktemp("docs") / "home"
    ws = goldenpath.connect(home, actor="alice", create=True)
    with serving(ws) as url:
        yield url
    ws.close()


def test_docs_and_every_asset_it_loads_come_from_the_server(docs_server: str) -> None:
    # No token: the documentation is public, like /openapi.json.
    page = httpx.get(docs_server + "/docs", timeout=30)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "://" not in page.text, "the page names another host"
    parser = References()
    parser.feed(page.text)
    assert len(parser.urls) >= 3  # the script, the style sheet, the icon
    for reference in [*parser.urls, "/openapi.json"]:
        assert reference in page.text
        url = urljoin(docs_server + "/docs", reference)
        assert urlsplit(url).netloc == urlsplit(docs_server).netloc, reference
        asset = httpx.get(url, timeout=30)
        assert asset.status_code == 200, reference
        assert asset.content, reference
        kind = asset.headers["content-type"].split(";")[0]
        expected = CONTENT_TYPES.get(Path(urlsplit(url).path).suffix, ("application/json",))
        assert kind in expected, (reference, kind)
    # Swagger UI itself: the real bundle, not an empty or error page.
    (script,) = [u for u in parser.urls if u.endswith("swagger-ui-bundle.js")]
    assert b"SwaggerUIBundle" in httpx.get(urljoin(docs_server, script), timeout=30).content


def test_redoc_is_off_because_its_bundle_calls_its_cdn(docs_server: str) -> None:
    assert httpx.get(docs_server + "/redoc", timeout=30).status_code == 404
