"""The {{ cookiecutter.project_name }} web application: `app` is the ASGI entry point for uvicorn."""
from fastapi import FastAPI
from pydantic import BaseModel

from {{ cookiecutter.project_name }} import __version__

app = FastAPI(
    title="{{ cookiecutter.project_name }}",
    description="{{ cookiecutter.description | replace('\\', '\\\\') | replace('"', '\\"') }}",
    version=__version__,
)


class Health(BaseModel):
    status: str


class About(BaseModel):
    name: str
    version: str
    docs: str


@app.get("/health", tags=["health"])
def health() -> Health:
    """Liveness probe: answers 200 {"status": "ok"} while the service can handle requests."""
    return Health(status="ok")


@app.get("/")
def about() -> About:
    """Names the service and says where its interactive API documentation is."""
    return About(name=app.title, version=app.version, docs=app.docs_url)
