from django.test import TestCase
from django.urls import reverse


class HealthTests(TestCase):
    def test_health_answers_ok(self):
        response = self.client.get("/health")

        self.assertEqual(response.status_code, 200)
        self.assertEqual(response["Content-Type"], "application/json")
        self.assertEqual(response.json(), {"status": "ok"})

    def test_health_is_the_named_route(self):
        self.assertEqual(reverse("{{ cookiecutter.app_name }}:health"), "/health")

    def test_health_only_answers_safe_methods(self):
        self.assertEqual(self.client.head("/health").status_code, 200)
        self.assertEqual(self.client.post("/health").status_code, 405)


class IndexTests(TestCase):
    def test_index_names_the_site(self):
        response = self.client.get("/")

        self.assertEqual(response.status_code, 200)
        self.assertEqual(
            response.json(), {"name": "{{ cookiecutter.project_name }}", "admin": "/admin/"}
        )
