# Project templates (cookiecutter format, docs/templates.md), installed with their layout under
# $(pkgdatadir)/templates/<stack>/ where the bootstrap agent finds them. manage.py keeps its
# executable bit, so it goes with the scripts.
nobase_dist_pkgdata_DATA = \
        templates/django/cookiecutter.json \
        templates/django/hooks/post_gen_project.py \
        templates/django/hooks/pre_gen_project.py \
        templates/django/troupe-template.json \
        templates/django/{{cookiecutter.project_name}}/.dockerignore \
        templates/django/{{cookiecutter.project_name}}/.gitignore \
        templates/django/{{cookiecutter.project_name}}/Dockerfile \
        templates/django/{{cookiecutter.project_name}}/LICENSE \
        templates/django/{{cookiecutter.project_name}}/README.md \
        templates/django/{{cookiecutter.project_name}}/requirements.txt \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/__init__.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/apps.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/migrations/__init__.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/models.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/tests.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/urls.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.app_name}}/views.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/__init__.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/asgi.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/settings.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/urls.py \
        templates/django/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/wsgi.py \
        templates/fastapi/cookiecutter.json \
        templates/fastapi/hooks/post_gen_project.py \
        templates/fastapi/hooks/pre_gen_project.py \
        templates/fastapi/troupe-template.json \
        templates/fastapi/{{cookiecutter.project_name}}/.dockerignore \
        templates/fastapi/{{cookiecutter.project_name}}/.gitignore \
        templates/fastapi/{{cookiecutter.project_name}}/Dockerfile \
        templates/fastapi/{{cookiecutter.project_name}}/LICENSE \
        templates/fastapi/{{cookiecutter.project_name}}/README.md \
        templates/fastapi/{{cookiecutter.project_name}}/pyproject.toml \
        templates/fastapi/{{cookiecutter.project_name}}/requirements-dev.txt \
        templates/fastapi/{{cookiecutter.project_name}}/requirements.txt \
        templates/fastapi/{{cookiecutter.project_name}}/tests/__init__.py \
        templates/fastapi/{{cookiecutter.project_name}}/tests/test_health.py \
        templates/fastapi/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/__init__.py \
        templates/fastapi/{{cookiecutter.project_name}}/{{cookiecutter.project_name}}/main.py
nobase_dist_pkgdata_SCRIPTS = \
        templates/django/{{cookiecutter.project_name}}/manage.py

EXTRA_DIST += templates/README.md docs/templates.md tests/e2e/template-check.py

# Renders both templates, runs the generated projects' tests and dev servers, and checks refusals.
TESTS += tests/e2e/test-templates.sh
EXTRA_DIST += tests/e2e/test-templates.sh
