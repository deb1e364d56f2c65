"""The explorer's web app (FastAPI): the page, its static files, the JSON API and the run jobs.

Routes (all on the host the user chose; loopback by default):

* ``GET /``: the page; ``GET /static/*``: its script and style; ``GET /bokeh/bokeh.min.js``: BokehJS from the
  installed ``bokeh`` package (nothing is fetched from elsewhere).
* ``GET /api/library``, ``GET /api/stories``: what the builder offers; the guided stories.
* ``POST /api/validate``: scenario YAML -> ``{"ok": true, "summary"}`` or 422 ``{"error", "field"}``.
* ``POST /api/simulate``: scenario YAML -> the result as JSON (:func:`._service.result_json`), the same numbers as
  ``results.nc`` of ``neuroplastic simulate``; a refused scenario is a 4xx with its one-line message.
* ``POST /api/jobs`` (``{"yaml", "compare_hypotheses"}``) -> ``{"id"}``: a run in the background;
  ``GET /api/jobs/{id}``: status and chunk progress; ``DELETE /api/jobs/{id}``: cancel;
  ``POST /api/plots`` (``{"jobs": [id, ...]}``): Bokeh figures of one or more finished runs side by side;
  ``GET /api/jobs/{id}/results.nc|results.csv|overview.png|scenario.yaml``: downloads.
"""

from __future__ import annotations

import threading
import time
import uuid
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response

from . import _service as svc
from ._stories import STORIES

MAX_JOBS = 16  # finished runs kept in memory; the oldest are dropped first


class Cancelled(Exception):
    """A run stopped at the user's request (raised from the progress callback between chunks)."""


class Job:
    def __init__(self, text: str, compare: bool):
        self.id = uuid.uuid4().hex[:12]
        self.text = text
        self.compare = compare
        self.status = "queued"
        self.done, self.total = 0, 1
        self.error: dict | None = None
        self.results: list = []
        self.labels: list[str] = []
        self.cancel = threading.Event()
        self.started = time.time()
        self.finished: float | None = None

    def state(self) -> dict:
        return {"id": self.id, "status": self.status, "done": self.done, "total": self.total,
                "elapsed_s": round((self.finished or time.time()) - self.started, 2), "error": self.error,
                "labels": self.labels,
                "summary": self.results[0].summary if self.results else None}

    def run(self):
        self.status = "running"
        try:
            sc = svc.scenario_from_text(self.text)
            texts = [self.text]
            self.labels = [sc.name or "scenario"]
            if self.compare:
                other = "monoamine" if sc.hypothesis == "plasticity" else "plasticity"
                texts = [svc.with_hypothesis(self.text, h) for h in (sc.hypothesis, other)]
                self.labels = [f"{sc.hypothesis} hypothesis", f"{other} hypothesis"]
            chunk = svc.chunk_for(sc.n_patients)
            self.total = len(texts)
            for i, text in enumerate(texts):
                def progress(k, n, i=i):
                    if self.cancel.is_set():
                        raise Cancelled()
                    self.total = len(texts) * max(int(n), 1)
                    self.done = i * max(int(n), 1) + int(k)
                if self.cancel.is_set():
                    raise Cancelled()
                self.results.append(svc.simulate_text(text, progress=progress, chunk=chunk))
                self.done = (i + 1) * max(self.total // len(texts), 1)
            self.status = "done"
        except Cancelled:
            self.status, self.results = "cancelled", []
        except svc.NeuroplasticError as e:
            self.status, self.error = "error", svc.error_json(e)
        except Exception as e:  # noqa: BLE001 -- reported to the page as one line, never a traceback
            self.status, self.error = "error", {"error": f"internal error ({type(e).__name__}: {e})", "field": None}
        finally:
            self.finished = time.time()


def _static(name: str) -> Path:
    return Path(str(resources.files("neuroplastic") / "explore" / "static" / name))


def create_app():
    """The FastAPI application (no server started; :func:`neuroplastic.explore.serve` runs it).

    Example
    -------
    >>> from fastapi.testclient import TestClient
    >>> c = TestClient(create_app())
    >>> c.post("/api/validate", content="duration: 1 week").json()["ok"]
    True
    >>> r = c.post("/api/validate", content="duration: -1 week")
    >>> r.status_code, r.json()["field"]
    (422, 'duration')
    """
    app = FastAPI(title="neuroplastic explorer", docs_url=None, redoc_url=None, openapi_url=None)
    jobs: dict[str, Job] = {}
    lock = threading.Lock()

    async def body_text(request: Request) -> str:
        raw = await request.body()
        if len(raw) > svc.MAX_TEXT:
            raise HTTPException(413, "at most 1 MiB of scenario YAML")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "scenario text must be UTF-8") from None

    def refused(e: Exception) -> JSONResponse:
        return JSONResponse(svc.error_json(e), status_code=422)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return HTMLResponse(_static("index.html").read_text(encoding="utf-8"))

    @app.get("/static/{name}")
    def static(name: str):
        if name not in ("app.js", "app.css"):
            raise HTTPException(404, "not found")
        media = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(_static(name), media_type=media)

    @app.get("/bokeh/bokeh.min.js")
    def bokehjs():
        import bokeh
        return FileResponse(Path(bokeh.__file__).parent / "server" / "static" / "js" / "bokeh.min.js",
                            media_type="text/javascript")

    @app.get("/favicon.ico")
    def favicon():
        return Response(status_code=204)

    @app.get("/api/library")
    def library():
        return svc.library()

    @app.get("/api/stories")
    def stories():
        return STORIES

    @app.post("/api/validate")
    async def validate(request: Request):
        text = await body_text(request)
        try:
            sc = svc.scenario_from_text(text)
        except svc.NeuroplasticError as e:
            return refused(e)
        return {"ok": True, "name": sc.name, "patients": sc.n_patients, "duration_days": sc.duration / 86400.0}

    @app.post("/api/simulate")
    async def simulate(request: Request):
        text = await body_text(request)
        try:
            res = svc.simulate_text(text)
        except svc.NeuroplasticError as e:
            return refused(e)
        return JSONResponse(svc.result_json(res))

    @app.post("/api/jobs")
    async def start(request: Request):
        doc = await request.json()
        if not isinstance(doc, dict) or not isinstance(doc.get("yaml"), str):
            return JSONResponse({"error": "expected {\"yaml\": scenario text}", "field": None}, status_code=400)
        try:
            svc.scenario_from_text(doc["yaml"])
        except svc.NeuroplasticError as e:
            return refused(e)
        job = Job(doc["yaml"], bool(doc.get("compare_hypotheses")))
        with lock:
            jobs[job.id] = job
            for old in sorted(jobs.values(), key=lambda j: j.started)[:-MAX_JOBS]:
                jobs.pop(old.id, None)
        threading.Thread(target=job.run, daemon=True, name=f"explore-{job.id}").start()
        return {"id": job.id}

    def get(job_id: str) -> Job:
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, f"no run {job_id!r}")
        return job

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str):
        return get(job_id).state()

    @app.delete("/api/jobs/{job_id}")
    def cancel(job_id: str):
        job = get(job_id)
        job.cancel.set()
        return {"id": job.id, "status": "cancelling" if job.status in ("queued", "running") else job.status}

    def finished(job_id: str) -> Job:
        job = get(job_id)
        if job.status != "done":
            raise HTTPException(409, f"run {job_id} is {job.status}")
        return job

    @app.post("/api/plots")
    async def plot(request: Request):
        doc = await request.json()
        ids = doc.get("jobs") if isinstance(doc, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= 4:
            return JSONResponse({"error": "expected {\"jobs\": [one to four run ids]}", "field": None}, status_code=400)
        results, labels = [], []
        for i, jid in enumerate(ids):
            job = finished(str(jid))
            results += job.results
            prefix = ("A: ", "B: ", "C: ", "D: ")[i] if len(ids) > 1 else ""
            labels += [prefix + lab for lab in job.labels]
        return JSONResponse(svc.plots(results, labels))

    @app.get("/api/jobs/{job_id}/{filename}")
    def download(job_id: str, filename: str):
        job = finished(job_id)
        res = job.results[0]
        head = {"Content-Disposition": f'attachment; filename="{filename}"'}
        if filename == "results.nc":
            return Response(svc.netcdf_bytes(res), media_type="application/x-netcdf", headers=head)
        if filename == "results.csv":
            return Response(svc.csv_text(res), media_type="text/csv", headers=head)
        if filename == "overview.png":
            return Response(svc.png_bytes(res), media_type="image/png", headers=head)
        if filename == "scenario.yaml":
            return Response(job.text, media_type="application/x-yaml", headers=head)
        raise HTTPException(404, "one of results.nc, results.csv, overview.png, scenario.yaml")

    return app


def serve(host: str = "127.0.0.1", port: int = 0, *, announce=print) -> None:
    """Run the explorer until interrupted. ``port=0`` takes a free port; the address is announced on start."""
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, int(port)))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(create_app(), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    shown = f"[{host}]" if ":" in host else host
    announce(f"neuroplastic explorer on http://{shown}:{bound}/  (Ctrl-C to stop)")
    server.run(sockets=[sock])
