"""Reference checks for troupe's project templates, driven by templates/<stack>/troupe-template.json.

Used by tests/e2e/test-templates.sh; it implements what docs/templates.md says the bootstrap agent does
with a manifest, so the manifests are tested the way they are meant to be used:

  manifest STACK_DIR                          the manifest is well formed and agrees with cookiecutter.json
  validate STACK_DIR [KEY=VALUE]...           the values pass the manifest's rules (exit 1 with reasons)
  refusals STACK_DIR -- CASE [-- CASE]...     each CASE (KEY=VALUE...) is refused: prints one line per
                                              case, `refused: REASONS` or `accepted`
  files STACK_DIR PROJECT_DIR [KEY=VALUE]...  the project holds exactly the files the manifest lists
                                              (those whose `when` holds)
  test STACK_DIR PROJECT_DIR [KEY=VALUE]...   runs checks.test in the project; exit status is the check's
  serve STACK_DIR PROJECT_DIR [KEY=VALUE]...  starts checks.serve on a free loopback port, probes the
                                              health path, stops the server; prints `health: ok|...` and
                                              `stopped: ok|...` lines
  cleanup STACK_DIR PROJECT_DIR [KEY=VALUE]...  removes what the checks leave (checks.cleanup)

The interpreter substituted for {python} is $TROUPE_PYTHON, else /usr/bin/python3.
"""
import json
import keyword
import os
import re
import sys
import unicodedata

# subprocess, socket, signal, time and urllib are imported where they are used: validating values
# is run often by the tests and should start fast.

TYPES = {"string", "choice", "bool", "slug"}
BOOL_VALUES = ("yes", "no")
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
PYTHON = os.environ.get("TROUPE_PYTHON", "/usr/bin/python3")


def load(stack_dir):
    with open(os.path.join(stack_dir, "troupe-template.json"), encoding="utf-8") as f:
        return json.load(f)


def parse_values(args):
    values = {}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise SystemExit("template-check: expected KEY=VALUE, got %r" % arg)
        values[key] = value
    return values


def value_errors(manifest, given):
    """What is wrong with the given option values, as messages that say what is allowed."""
    options = manifest["options"]
    errors = ["unknown option %r: the options of %s are %s" % (k, manifest["name"], ", ".join(options))
              for k in given if k not in options]
    values = {k: given.get(k, spec["default"]) for k, spec in options.items()}
    for key, spec in options.items():
        value = values[key]
        kind = spec["type"]
        if spec.get("required") and key not in given:
            errors.append("%s is required" % key)
        if not isinstance(value, str):
            errors.append("%s must be a string" % key)
            continue
        if kind == "choice" and value not in spec["choices"]:
            errors.append("%s %r is not one of: %s" % (key, value, ", ".join(spec["choices"])))
        elif kind == "bool" and value not in BOOL_VALUES:
            errors.append("%s %r is not one of: yes, no" % (key, value))
        elif kind in ("slug", "string"):
            if kind == "slug" and not value.isascii():
                errors.append("%s %r is not ASCII" % (key, value))
            if kind == "string" and any(unicodedata.category(c) == "Cc" or c in "\u2028\u2029"
                                        for c in value):
                errors.append("%s must be a single line without control characters" % key)
            if len(value) > spec["max_length"]:
                errors.append("%s is %d characters long: at most %d are allowed"
                              % (key, len(value), spec["max_length"]))
            if "pattern" in spec and not re.fullmatch(spec["pattern"], value):
                errors.append("%s %r does not match %s: %s" % (key, value[:80], spec["pattern"], spec["help"]))
            if value in spec.get("reserved", ()):
                errors.append("%s %r is reserved (a Python keyword, module or dependency)" % (key, value))
    for rule in manifest.get("constraints", []):
        picked = [values[k] for k in rule["distinct"]]
        if len(set(picked)) != len(picked):
            errors.append(rule["message"])
    return errors, values


def substitute(text, values, extra=None):
    table = dict(values, python=PYTHON, **(extra or {}))

    def one(match):
        if match.group(1) not in table:
            raise KeyError(match.group(1))
        return table[match.group(1)]

    return PLACEHOLDER.sub(one, text)


def manifest_errors(stack_dir):
    errors = []
    m = load(stack_dir)
    with open(os.path.join(stack_dir, "cookiecutter.json"), encoding="utf-8") as f:
        cc = json.load(f)
    for key in ("format", "name", "description", "project_dir", "requires", "options", "constraints",
                "files", "checks", "run"):
        if key not in m:
            errors.append("missing key %r" % key)
    if errors:
        return errors
    if m["format"] != 1:
        errors.append("format must be 1")
    if m["name"] != os.path.basename(os.path.normpath(stack_dir)):
        errors.append("name %r is not the folder's name" % m["name"])
    options = m["options"]
    if list(options) != [k for k in cc if not k.startswith("_")]:
        errors.append("options %s differ from cookiecutter.json's %s" % (list(options), list(cc)))
    if options.get("project_name", {}).get("type") != "slug" or not options["project_name"].get("required"):
        errors.append("project_name must be a required slug")
    python_names = {n for n in set(sys.stdlib_module_names) | set(keyword.kwlist)
                    if re.fullmatch(r"[a-z][a-z0-9_]{0,63}", n)}
    for key, spec in options.items():
        kind = spec.get("type")
        if kind not in TYPES:
            errors.append("%s: type %r is not one of %s" % (key, kind, sorted(TYPES)))
            continue
        for field in ("default", "help"):
            if not isinstance(spec.get(field), str):
                errors.append("%s: %s must be a string" % (key, field))
        cc_value = cc.get(key)
        if kind in ("choice", "bool"):
            choices = spec["choices"] if kind == "choice" else list(BOOL_VALUES)
            if not isinstance(cc_value, list) or sorted(cc_value) != sorted(choices):
                errors.append("%s: cookiecutter.json offers %r, the manifest %r" % (key, cc_value, choices))
            elif cc_value[0] != spec["default"]:
                errors.append("%s: cookiecutter.json's default %r is not %r" % (key, cc_value[0], spec["default"]))
            if kind == "choice" and spec["choices"][0] != spec["default"]:
                errors.append("%s: the default must be the first choice" % key)
        else:
            if cc_value != spec["default"]:
                errors.append("%s: cookiecutter.json's default %r is not %r" % (key, cc_value, spec["default"]))
            if not isinstance(spec.get("max_length"), int):
                errors.append("%s: max_length must be an integer" % key)
            if "pattern" in spec:
                re.compile(spec["pattern"])
        if kind == "slug":
            missing = python_names - set(spec.get("reserved", []))
            if missing:
                errors.append("%s: reserved lacks Python names %s" % (key, sorted(missing)))
    problems, values = value_errors(m, {"project_name": options["project_name"]["default"]})
    errors += ["defaults: " + p for p in problems]
    checks = m["checks"]
    for key in ("test", "serve"):
        if not (isinstance(checks.get(key), list) and checks[key] and all(isinstance(a, str) for a in checks[key])):
            errors.append("checks.%s must be a non-empty argv" % key)
    if not any("{port}" in a for a in checks.get("serve", [])):
        errors.append("checks.serve must take {port}")
    if not all(isinstance(c, str) and not c.startswith("/") and ".." not in c.split("/")
               for c in checks.get("cleanup", [])):
        errors.append("checks.cleanup must list relative paths inside the project")
    if not str(checks.get("health_path", "")).startswith("/"):
        errors.append("checks.health_path must start with /")
    texts = ([m["project_dir"], m["run"]] + [f["path"] for f in m["files"]] + checks["test"] + checks["serve"]
             + checks.get("cleanup", []))
    for text in texts:
        try:
            substitute(text, values, {"port": "1"})
        except KeyError as e:
            errors.append("unknown placeholder {%s} in %r" % (e.args[0], text))
    for f in m["files"]:
        for key, want in f.get("when", {}).items():
            if key not in options:
                errors.append("files: %r depends on unknown option %r" % (f["path"], key))
    return errors


def expected_files(manifest, values):
    present, absent = [], []
    for f in manifest["files"]:
        path = substitute(f["path"], values)
        wanted = all(values[k] == v for k, v in f.get("when", {}).items())
        (present if wanted else absent).append(path)
    return present, absent


def check_env(manifest):
    env = {k: v for k, v in os.environ.items()
           if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TERM")}
    env.update(manifest["checks"].get("env", {}))
    return env


def run_test(manifest, project_dir, values):
    import subprocess

    argv = [substitute(a, values) for a in manifest["checks"]["test"]]
    try:
        proc = subprocess.run(argv, cwd=project_dir, env=check_env(manifest), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=manifest["checks"]["test_timeout_sec"])
    except subprocess.TimeoutExpired:
        print("timed out: %s" % " ".join(argv))
        return 1
    tail = proc.stdout.decode(errors="replace").strip().splitlines()[-12:]
    print("\n".join(tail))
    return proc.returncode


def free_port():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(url):
    """(status, body) of a GET, or None when nothing answers yet."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:  # refused, reset or timed out: not listening yet
        return None


def group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop(proc):
    import signal
    import subprocess
    import time

    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    end = time.monotonic() + 10
    while group_alive(proc.pid) and time.monotonic() < end:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        time.sleep(0.05)


def serve(manifest, project_dir, values, log_path):
    import signal
    import subprocess
    import time

    # Killed while the server runs: still stop it (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    checks = manifest["checks"]
    want_status, want_json = checks.get("health_status", 200), checks.get("health_json")
    health = "no attempt"
    for attempt in range(1, 4):
        port = str(free_port())
        argv = [substitute(a, values, {"port": port}) for a in checks["serve"]]
        url = "http://127.0.0.1:%s%s" % (port, checks["health_path"])
        with open(log_path, "ab") as log:
            log.write(("--- attempt %d: %s\n" % (attempt, " ".join(argv))).encode())
            log.flush()
            proc = subprocess.Popen(argv, cwd=project_dir, env=check_env(manifest), stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        started = time.monotonic()
        deadline = started + checks["serve_timeout_sec"]
        answer = None
        collided = False
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    with open(log_path, "rb") as log:
                        text = log.read().decode(errors="replace")
                    collided = "already in use" in text.split("--- attempt %d" % attempt)[-1]
                    health = "server exited with status %d before answering" % proc.returncode
                    break
                answer = probe(url)
                if answer is not None:
                    break
                time.sleep(0.05)
            else:
                health = "no answer on %s within %d s" % (url, checks["serve_timeout_sec"])
            if answer is not None:
                status, body = answer
                try:
                    got = json.loads(body)
                except ValueError:
                    got = body[:200]
                if status == want_status and (want_json is None or got == want_json):
                    health = "ok (%s answered %d %s after %.2f s)" % (
                        url, status, json.dumps(got), time.monotonic() - started)
                else:
                    health = "%s answered %d %r, expected %d %s" % (url, status, got, want_status,
                                                                    json.dumps(want_json))
        finally:
            stop(proc)
        if collided:
            continue
        break
    print("health: " + health)
    if group_alive(proc.pid):
        print("stopped: processes of group %d are still running" % proc.pid)
    elif probe(url) is not None:
        print("stopped: something still answers on %s" % url)
    else:
        print("stopped: ok (exit status %s)" % proc.returncode)
    return 0


def main(argv):
    if len(argv) < 2:
        raise SystemExit(__doc__)
    command, stack_dir, rest = argv[0], argv[1], argv[2:]
    if command == "manifest":
        errors = manifest_errors(stack_dir)
        for e in errors:
            print("error: " + e)
        return 1 if errors else 0
    manifest = load(stack_dir)
    if command == "refusals":
        cases, case = [], None
        for arg in rest:
            if arg == "--":
                case = []
                cases.append(case)
            elif case is None:
                raise SystemExit("template-check: refusals: cases start with --")
            else:
                case.append(arg)
        for case in cases:
            errors, _ = value_errors(manifest, parse_values(case))
            print("refused: " + " | ".join(errors) if errors else "accepted")
        return 0
    if command == "validate":
        errors, _ = value_errors(manifest, parse_values(rest))
        for e in errors:
            print("error: " + e)
        return 1 if errors else 0
    project_dir, given = rest[0], parse_values(rest[1:])
    errors, values = value_errors(manifest, given)
    if errors:
        raise SystemExit("template-check: invalid values: " + "; ".join(errors))
    if command == "files":
        present, absent = expected_files(manifest, values)
        problems = ["missing: " + p for p in present if not os.path.isfile(os.path.join(project_dir, p))]
        problems += ["unexpected: " + p for p in absent if os.path.lexists(os.path.join(project_dir, p))]
        for root, dirs, names in os.walk(project_dir):
            for name in names:
                path = os.path.relpath(os.path.join(root, name), project_dir)
                if path not in present and path not in absent:
                    problems.append("not in the manifest's files: " + path)
        for p in problems:
            print(p)
        return 1 if problems else 0
    if command == "test":
        return run_test(manifest, project_dir, values)
    if command == "serve":
        return serve(manifest, project_dir, values, os.environ.get("SERVE_LOG", os.devnull))
    if command == "cleanup":
        for path in manifest["checks"].get("cleanup", []):
            path = os.path.normpath(substitute(path, values))
            if os.path.isabs(path) or path.split(os.sep)[0] == "..":
                raise SystemExit("template-check: cleanup path %r leaves the project" % path)
            try:
                os.remove(os.path.join(project_dir, path))
            except FileNotFoundError:
                pass
        return 0
    raise SystemExit("template-check: unknown command %r" % command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
