from fastapi.testclient import TestClient

from {{ cookiecutter.project_name }}.main import app

client = TestClient(app)


def test_health_answers_ok():
    response = client.get("/health")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}


def test_health_only_answers_get():
    response = client.post("/health")

    assert response.status_code == 405


def test_root_names_the_service():
    response = client.get("/")

    assert response.status_code == 200
    assert response.json() == {
        "name": "{{ cookiecutter.project_name }}",
        "version": "0.1.0",
        "docs": "/docs",
    }
