from django.urls import path

from . import views

app_name = "{{ cookiecutter.app_name }}"

urlpatterns = [
    path("", views.index, name="index"),
    path("health", views.health, name="health"),
]
