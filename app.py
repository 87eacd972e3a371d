"""Private Integrations: Chalice wiring only. The code lives in chalicelib/."""

from __future__ import annotations

import logging

from chalice import Chalice

from chalicelib import web
from chalicelib.routes import management

app = Chalice(app_name="private-integrations")
app.log.setLevel(logging.INFO)
logging.getLogger("private_integrations").setLevel(logging.INFO)

app.register_middleware(web.handle_http, "http")
app.register_blueprint(management.bp)
