"""Refuses option values that the django template cannot turn into a working project.

troupe validates every option against troupe-template.json before it renders anything; this hook
applies the same rules again inside cookiecutter (defense in depth), so a direct cookiecutter run or
a buggy caller cannot produce a broken or misplaced project.  On refusal it says what is allowed on
stderr and exits 1; cookiecutter then removes the project directory it created and stops.
"""
import keyword
import re
import sys
import unicodedata

# Rendered by cookiecutter: every value goes through tojson, so any value is a safe Python literal.
VALUES = {
    "project_name": {{ cookiecutter.project_name | tojson }},
    "description": {{ cookiecutter.description | tojson }},
    "app_name": {{ cookiecutter.app_name | tojson }},
    "python_version": {{ cookiecutter.python_version | tojson }},
    "dockerfile": {{ cookiecutter.dockerfile | tojson }},
    "license": {{ cookiecutter.license | tojson }},
}

SLUG = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Names the generated project imports or uses: a package of that name would shadow them, and an app
# labelled like one of Django's contrib apps would clash with it in INSTALLED_APPS.
RESERVED = {
    "test", "tests", "manage",
    "django", "asgiref", "sqlparse", "pytz",
    "admin", "auth", "contenttypes", "sessions", "messages", "staticfiles",
}
CHOICES = {
    "python_version": ["3.11", "3.10", "3.9"],
    "dockerfile": ["yes", "no"],
    "license": ["MIT", "Apache-2.0", "BSD-3-Clause", "proprietary"],
}
DESCRIPTION_MAX = 200


def shown(value):
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_slug(key, value, errors):
    if not isinstance(value, str) or not SLUG.fullmatch(value):
        errors.append(
            "%s %s is not allowed: use 1 to 64 characters, lowercase ASCII letters, digits and '_',"
            " starting with a letter ('-' is not allowed: the name is also a Python package),"
            " for example 'billing' or 'billing_api'" % (key, shown(value))
        )
    elif keyword.iskeyword(value) or value in sys.stdlib_module_names or value in RESERVED:
        errors.append(
            "%s %s is reserved: a package of that name would shadow the Python keyword, module or"
            " Django app of the same name; choose another, for example '%s_app'"
            % (key, shown(value), value)
        )


def check_line(key, value, limit, errors):
    if not isinstance(value, str):
        errors.append("%s must be text, not %s" % (key, shown(value)))
        return
    if len(value) > limit:
        errors.append("%s is %d characters long: at most %d are allowed" % (key, len(value), limit))
    bad = sorted({c for c in value if unicodedata.category(c) == "Cc" or c in "\u2028\u2029{}"})
    if bad:
        errors.append(
            "%s contains %s: it must be a single line of text without control characters or braces"
            % (key, ", ".join(repr(c) for c in bad))
        )


def check_choice(key, value, errors):
    if value not in CHOICES[key]:
        errors.append("%s %s is not one of: %s" % (key, shown(value), ", ".join(CHOICES[key])))


def main():
    errors = []
    check_slug("project_name", VALUES["project_name"], errors)
    check_slug("app_name", VALUES["app_name"], errors)
    if VALUES["app_name"] == VALUES["project_name"]:
        errors.append(
            "app_name %s is the project_name too: the app needs a package of its own, for example"
            " 'core'" % shown(VALUES["app_name"])
        )
    check_line("description", VALUES["description"], DESCRIPTION_MAX, errors)
    for key in CHOICES:
        check_choice(key, VALUES[key], errors)
    for message in errors:
        print("error: " + message, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
