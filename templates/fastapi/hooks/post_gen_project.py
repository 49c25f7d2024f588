"""Removes the files that the chosen options leave out (cookiecutter 1.7 renders every file)."""
import os

if {{ cookiecutter.dockerfile | tojson }} != "yes":
    for name in ("Dockerfile", ".dockerignore"):
        os.remove(name)
