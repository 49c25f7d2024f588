#!/usr/bin/env bash
# End to end: renders the project templates in templates/ with Debian's cookiecutter, checks the files
# their manifests (troupe-template.json) list, runs each generated project's own tests, starts its dev
# server on a free loopback port, probes /health and stops it; and checks that bad option values are
# refused, both by the manifest's rules and by the templates' own hooks, with nothing written.
# Everything runs on /usr/bin/python3 (or $TROUPE_PYTHON), where dev/setup installs Debian's packages.
. "$TOP_SRCDIR/tests/integration/lib.sh"

PY=${TROUPE_PYTHON:-/usr/bin/python3}
export TROUPE_PYTHON=$PY
CHECK=$TOP_SRCDIR/tests/e2e/template-check.py
TEMPLATES=$TOP_SRCDIR/templates
STACKS=(fastapi django)

# cookiecutter 1.7 leaves its rendered hook scripts in $TMPDIR and writes replay files where its
# config says: keep all of that inside $T. Nothing from the caller's Python setup leaks in.
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR" "$T/projects"
printf 'cookiecutters_dir: %s/cookiecutters\nreplay_dir: %s/replay\n' "$T" "$T" >"$T/cookiecutter.yaml"
unset PYTHONPATH PYTHONHOME PYTHONSTARTUP PYTHONUSERBASE DJANGO_SETTINGS_MODULE COOKIECUTTER_CONFIG

# render STACK OUTPUT_DIR [KEY=VALUE]...: cookiecutter, as the bootstrap agent runs it. $CC_CONFIG
# names another config file (renders that run at the same time keep their replay files apart).
render() {
        local stack=$1 out=$2
        shift 2
        "$PY" -m cookiecutter --no-input --config-file "${CC_CONFIG:-$T/cookiecutter.yaml}" --output-dir "$out" \
                "$TEMPLATES/$stack" "$@"
}

# has_all FILE STRING...: FILE contains every STRING.
has_all() {
        local file=$1 s
        shift
        for s in "$@"; do
                grep -qF -e "$s" "$file" || { echo "no '$s' in $file"; return 1; }
        done
}

# Fails, naming dev/setup, when the interpreter lacks what a manifest's "requires" lists.
prerequisites() {
        if [ ! -x "$PY" ]; then
                echo "$PY is missing: run dev/setup, which installs Debian's python3 and the templates' packages"
                return 1
        fi
        "$PY" - "$TEMPLATES" "${STACKS[@]}" <<'EOF'
import importlib.util, json, os, sys
top, stacks = sys.argv[1], sys.argv[2:]
missing, packages = [], set()
for stack in stacks:
    with open(os.path.join(top, stack, "troupe-template.json")) as f:
        requires = json.load(f)["requires"]
    packages.update(requires["debian"])
    missing += [m for m in requires["python_modules"] if importlib.util.find_spec(m) is None and m not in missing]
if missing:
    print("%s lacks the Python modules %s: run dev/setup, which installs Debian's %s"
          % (sys.executable, ", ".join(missing), " ".join(sorted(packages))))
    sys.exit(1)
EOF
}

# Every file of every template is listed in templates/local.mk, so `make dist` and `make install` ship it.
all_shipped() {
        local listed
        listed=$(tr -s ' \t\\' '\n\n\n' <"$TOP_SRCDIR/templates/local.mk" | grep '^templates/' | LC_ALL=C sort -u)
        (cd "$TOP_SRCDIR" && find templates -type f ! -name '*.pyc' ! -name local.mk | LC_ALL=C sort) |
                LC_ALL=C comm -23 - <(printf '%s\n' "$listed") | sed 's/^/not in templates\/local.mk: /' | grep . && return 1
        return 0
}

# No Jinja syntax survives rendering.
rendered_fully() {
        ! grep -rIn -e '{{' -e '{%' -e '{#' -e 'cookiecutter' "$1"
}

# serve_checks LABEL STACK PROJECT_DIR [KEY=VALUE]...: two tests, the health probe and the stop.
serve_checks() {
        local label=$1 stack=$2 dir=$3 out health stopped
        shift 3
        out=$(SERVE_LOG="$T/$label-serve.log" "$PY" "$CHECK" serve "$TEMPLATES/$stack" "$dir" "$@" 2>&1)
        health=$(sed -n 's/^health: //p' <<<"$out")
        stopped=$(sed -n 's/^stopped: //p' <<<"$out")
        if [[ $health == ok* ]]; then
                ok "$label: dev server on a free loopback port answers /health with 200 {\"status\": \"ok\"}"
                diag "$health"
        else
                not_ok "$label: dev server answers /health" "${health:-$out}"
        fi
        if [[ $stopped == ok* ]]; then
                ok "$label: dev server stopped, no process of it left, port closed"
        else
                not_ok "$label: dev server stopped" "${stopped:-$out}"
        fi
}

# Refusal cases, queued per stack by `refusal` and checked together by `check_refusals`.
R_DESC=() R_HOW=() R_KEY=() R_ARGS=() R_JOBS=()

# refusal hook|manifest STACK WHAT KEY=VALUE...: the manifest's rules must refuse the values and, for
# `hook`, so must the template's pre_gen hook when cookiecutter renders them: it says why (naming the
# first KEY), exits non-zero and leaves nothing behind. `manifest` cases must never reach cookiecutter
# (see docs/templates.md). Each hook case renders at once, in the background, in a folder of its own.
refusal() {
        local how=$1 stack=$2 what=$3 dir config
        shift 3
        dir=$T/projects/refuse-$stack-${#R_DESC[@]}
        config=$T/cookiecutter-refuse-$stack-${#R_DESC[@]}.yaml
        R_DESC+=("$what") R_HOW+=("$how") R_KEY+=("${1%%=*}") R_ARGS+=(-- "$@")
        if [ "$how" = hook ]; then
                mkdir -p "$dir/out"
                printf 'cookiecutters_dir: %s/cookiecutters\nreplay_dir: %s/replay\n' "$config.d" "$config.d" >"$config"
                (
                        CC_CONFIG=$config render "$stack" "$dir/out" "$@" >"$dir/output" 2>&1
                        echo $? >"$dir/rc"
                ) &
                R_JOBS+=($!)
                _pids+=($!)
        fi
}

check_refusals() {
        local stack=$1 i dir rc left out verdicts
        mapfile -t verdicts < <("$PY" "$CHECK" refusals "$TEMPLATES/$stack" "${R_ARGS[@]}" 2>&1)
        wait "${R_JOBS[@]}"
        for i in "${!R_DESC[@]}"; do
                if [[ ${verdicts[i]-} == refused:* ]]; then
                        ok "$stack: the manifest refuses ${R_DESC[i]}"
                else
                        not_ok "$stack: the manifest refuses ${R_DESC[i]}" "${verdicts[i]-no verdict}"
                fi
                [ "${R_HOW[i]}" = hook ] || continue
                dir=$T/projects/refuse-$stack-$i
                rc=$(cat "$dir/rc")
                out=$(cat "$dir/output")
                left=$(cd "$dir" && find . -mindepth 1 ! -path ./out ! -path ./rc ! -path ./output)
                if [ "$rc" -ne 0 ] && grep -q "^error: ${R_KEY[i]} " <<<"$out" && [ -z "$left" ]; then
                        ok "$stack: the template's hook refuses ${R_DESC[i]} with a reason, nothing written"
                else
                        not_ok "$stack: the template's hook refuses ${R_DESC[i]}" \
                                "exit $rc, left behind: ${left:-nothing}; output: $(tail -n 3 <<<"$out" | tr '\n' ' ')"
                fi
        done
        R_DESC=() R_HOW=() R_KEY=() R_ARGS=() R_JOBS=()
}

# license_is LICENSE PATTERN: a fastapi project rendered with that license has it in LICENSE.
license_is() {
        local name=lic_${1//[^a-zA-Z0-9]/_}
        name=${name,,}
        render fastapi "$T/projects/fastapi/c" "project_name=$name" "license=$1" dockerfile=no >/dev/null &&
                grep -q "$2" "$T/projects/fastapi/c/$name/LICENSE"
}

# same_tree DIR SNAPSHOT: DIR holds exactly the files and folders it held when SNAPSHOT was taken.
tree_of() {
        (cd "$1" && find . | LC_ALL=C sort)
}

same_tree() {
        diff <(printf '%s\n' "$2") <(tree_of "$1")
}

secret_key() {
        sed -n 's/^SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "\([A-Za-z]*\)")$/\1/p' "$1"
}

# The cases every stack refuses.
refuse_common() {
        local stack=$1
        # Through the manifest and through the hook: one case at least for each of the hook's rules.
        refusal hook "$stack" "the name ../x" project_name=../x
        refusal hook "$stack" "the upper-case name A" project_name=A
        refusal hook "$stack" "a name of 65 characters" "project_name=$(printf 'a%.0s' {1..65})"
        refusal hook "$stack" "a standard library module's name" project_name=json
        refusal hook "$stack" "a description with a newline" "description=two"$'\n'"lines" project_name=ok_name
        refusal hook "$stack" "a description of 201 characters" "description=$(printf 'd%.0s' {1..201})" \
                project_name=ok_name
        # Through the manifest only. Some of these must never reach cookiecutter: it would create (and
        # then remove) directories outside its output directory, ignore a choice or an option it does
        # not know, or render the value as Jinja (docs/templates.md).
        refusal manifest "$stack" "a name with a dash" project_name=my-app
        refusal manifest "$stack" "a Python keyword" project_name=class
        refusal manifest "$stack" "the framework's own name" "project_name=$stack"
        refusal manifest "$stack" "the name a/b" project_name=a/b
        refusal manifest "$stack" "the name /tmp/x" project_name=/tmp/x
        refusal manifest "$stack" "the name .x" project_name=.x
        refusal manifest "$stack" "a name of 300 characters" "project_name=$(printf 'b%.0s' {1..300})"
        refusal manifest "$stack" "an empty name" project_name=
        refusal manifest "$stack" "a missing name" description=nameless
        refusal manifest "$stack" "a description with Jinja in it" "description={{ 7*7 }}" project_name=ok_name
        refusal manifest "$stack" "an unknown license" license=GPL-3.0 project_name=ok_name
        refusal manifest "$stack" "dockerfile=maybe" dockerfile=maybe project_name=ok_name
        refusal manifest "$stack" "an unknown option" colour=blue project_name=ok_name
}

test_fastapi() {
        local w=$T/projects/fastapi p q snap
        refuse_common fastapi
        check "fastapi: manifest is well formed and agrees with cookiecutter.json" \
                "$PY" "$CHECK" manifest "$TEMPLATES/fastapi"

        check "fastapi: renders billing with the defaults" render fastapi "$w/a" project_name=billing
        p=$w/a/billing
        snap=$(tree_of "$p")
        check "fastapi: billing has the files the manifest lists, Dockerfile and .dockerignore included" \
                "$PY" "$CHECK" files "$TEMPLATES/fastapi" "$p" project_name=billing
        check "fastapi: nothing left unrendered" rendered_fully "$p"
        check "fastapi: README says how to run and test it" \
                has_all "$p/README.md" 'python -m uvicorn billing.main:app --reload' 'python -m pytest'
        check "fastapi: MIT LICENSE by default" grep -q '^MIT License$' "$p/LICENSE"
        check "fastapi: billing's own tests pass (pytest, TestClient)" \
                "$PY" "$CHECK" test "$TEMPLATES/fastapi" "$p" project_name=billing
        serve_checks fastapi fastapi "$p" project_name=billing
        check "fastapi: the checks' cleanup runs" "$PY" "$CHECK" cleanup "$TEMPLATES/fastapi" "$p" project_name=billing
        check "fastapi: no caches or other leftovers from the checks" same_tree "$p" "$snap"

        check "fastapi: renders ledger with every option set" render fastapi "$w/b" project_name=ledger \
                'description=Keeps "ledgers" \ balanced & <safe>' python_version=3.12 dockerfile=no \
                license=proprietary
        q=$w/b/ledger
        check "fastapi: ledger has the listed files and no Dockerfile or .dockerignore" \
                "$PY" "$CHECK" files "$TEMPLATES/fastapi" "$q" project_name=ledger dockerfile=no
        check "fastapi: ledger imports, its description reaches the app intact" \
                "$PY" -c 'import sys; sys.path.insert(0, sys.argv[1]); from ledger.main import app
assert app.description == sys.argv[2], app.description' "$q" 'Keeps "ledgers" \ balanced & <safe>'
        check "fastapi: README names the chosen Python version" grep -q 'Python 3.12' "$q/README.md"
        check "fastapi: proprietary LICENSE reserves all rights" grep -q 'All rights reserved' "$q/LICENSE"
        check "fastapi: BSD-3-Clause LICENSE" license_is BSD-3-Clause '^BSD 3-Clause License$'

        check_refusals fastapi
}

test_django() {
        local w=$T/projects/django p q ka kb snap
        refuse_common django
        refusal manifest django "an app_name of ../x" app_name=../x project_name=shop
        refusal hook django "an app_name equal to project_name" app_name=shop project_name=shop
        refusal hook django "an app_name that clashes with a contrib app" app_name=admin project_name=shop
        check "django: manifest is well formed and agrees with cookiecutter.json" \
                "$PY" "$CHECK" manifest "$TEMPLATES/django"

        check "django: renders mysite with the defaults" render django "$w/a" project_name=mysite
        p=$w/a/mysite
        snap=$(tree_of "$p")
        check "django: mysite has the files the manifest lists, Dockerfile and .dockerignore included" \
                "$PY" "$CHECK" files "$TEMPLATES/django" "$p" project_name=mysite
        check "django: nothing left unrendered" rendered_fully "$p"
        check "django: README says how to run and test it" \
                has_all "$p/README.md" 'python manage.py runserver' 'python manage.py test'
        check "django: manage.py is executable" test -x "$p/manage.py"
        check "django: mysite's own tests pass (Django's test runner and client)" \
                "$PY" "$CHECK" test "$TEMPLATES/django" "$p" project_name=mysite
        serve_checks django django "$p" project_name=mysite
        check "django: the checks' cleanup removes the database runserver creates" \
                "$PY" "$CHECK" cleanup "$TEMPLATES/django" "$p" project_name=mysite
        check "django: no caches or other leftovers from the checks" same_tree "$p" "$snap"

        check "django: renders shop with every option set" render django "$w/b" project_name=shop \
                app_name=store_front 'description=The "shop" \ front' python_version=3.10 dockerfile=no \
                license=Apache-2.0
        q=$w/b/shop
        check "django: shop has the listed files, its app store_front, no Dockerfile or .dockerignore" \
                "$PY" "$CHECK" files "$TEMPLATES/django" "$q" project_name=shop app_name=store_front dockerfile=no
        check "django: shop's own tests pass with the app store_front" \
                "$PY" "$CHECK" test "$TEMPLATES/django" "$q" project_name=shop app_name=store_front
        check "django: Apache-2.0 LICENSE" grep -q 'Apache License' "$q/LICENSE"
        ka=$(secret_key "$p/mysite/settings.py")
        kb=$(secret_key "$q/shop/settings.py")
        check "django: each project gets its own random 50-letter SECRET_KEY" \
                test "${#ka}" -eq 50 -a "${#kb}" -eq 50 -a "$ka" != "$kb"
        check "django: DEBUG is on and only localhost is allowed by default" \
                bash -c 'cd "$1" && env -i PATH="$PATH" "$2" -c "
import django, os
os.environ[\"DJANGO_SETTINGS_MODULE\"] = \"shop.settings\"
from django.conf import settings
assert settings.DEBUG is True, settings.DEBUG
assert settings.ALLOWED_HOSTS == [\"localhost\", \"127.0.0.1\", \"[::1]\"], settings.ALLOWED_HOSTS
assert str(settings.DATABASES[\"default\"][\"NAME\"]).startswith(os.getcwd())
"' _ "$q" "$PY"

        check_refusals django
}

if out=$(prerequisites 2>&1); then
        ok "Debian's cookiecutter, FastAPI, uvicorn, httpx, pytest and Django are there for $PY"
else
        not_ok "Debian's cookiecutter, FastAPI, uvicorn, httpx, pytest and Django are there for $PY" "$out"
        exit 1
fi
check "templates: every template file is shipped by templates/local.mk" all_shipped

for stack in "${STACKS[@]}"; do
        start=$EPOCHREALTIME
        "test_$stack"
        diag "$stack: $(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s"
done
