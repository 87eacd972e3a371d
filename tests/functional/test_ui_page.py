"""The page's files and their Content-Security-Policy (the browser behaviour is in test_ui_browser.py)."""

from __future__ import annotations

from tests.support.world import Api


def test_the_page_runs_only_its_own_files_under_a_strict_policy(api: Api) -> None:
    page = api.client.http.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe-inline" not in policy and "sha256-" not in policy
    html = page.body.decode()
    assert "<script>" not in html and "<style>" not in html and " style=" not in html
    assert '<script type="module" src="assets/app.js">' in html
    script = api.client.http.get("/assets/app.js")
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert "function start()" in script.body.decode()
    style = api.client.http.get("/assets/app.css")
    assert style.status_code == 200 and style.headers["Content-Type"].startswith("text/css")
    missing = api.client.http.get("/assets/index.html")
    assert missing.status_code == 404 and "app.js" in missing.json_body["message"]
