"""The explorer: neuroplastic in the browser (``neuroplastic explore``).

A local web app (FastAPI and uvicorn for the server, Bokeh for the figures, a small page of plain HTML and script):
build a scenario by pointing, run it, see the scales and the mechanism layers on linked time axes, compare two
scenarios or the two hypotheses, follow the guided stories, and download the scenario, results and figure. It binds
to loopback unless told otherwise and fetches nothing from the network; programs use ``POST /api/simulate``.

Example
-------
>>> from fastapi.testclient import TestClient
>>> client = TestClient(create_app())
>>> sorted(client.get("/api/library").json())[:3]
['coils', 'drugs', 'hypotheses']
"""

from ._server import create_app, serve
from ._service import library, plots, result_json
from ._stories import STORIES

__all__ = ["STORIES", "create_app", "library", "plots", "result_json", "serve"]
