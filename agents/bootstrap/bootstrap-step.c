/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The step mode: each step of a bootstrap, run by the agent through ExecRequest inside the task's
 * sandbox with the workspace as the current directory (docs/templates.md, troupe-agent-bootstrap(8)). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "basic/time-util.h"
#include "bootstrap.h"
#include "json/json-util.h"
#include "template/template.h"

#define TAIL_MAX 4096U
#define TAIL_LINES 20U
#define FILES_MAX 2000U
#define PROBE_INTERVAL_MSEC 50
#define SERVE_TRIES 3
#define STOP_TIMEOUT_USEC (10 * USEC_PER_SEC)

typedef struct StepArgs {
        const char *step;
        const char *templates_dir;
        const char *python;
        const char *stack;
        bool force;
        char **assignments; /* borrowed from argv */
        Template *template;
        char **values;
        char *project_dir; /* relative to the workspace */
} StepArgs;

/* The output of a child: passed through to our stdout as it comes, the tail kept. */
typedef struct Capture {
        char buf[TAIL_MAX];
        size_t size;
} Capture;

static void capture_add(Capture *c, const char *p, size_t n) {
        if (n >= TAIL_MAX) {
                memcpy(c->buf, p + n - TAIL_MAX, TAIL_MAX);
                c->size = TAIL_MAX;
                return;
        }
        if (c->size + n > TAIL_MAX) {
                size_t drop = c->size + n - TAIL_MAX;
                memmove(c->buf, c->buf + drop, c->size - drop);
                c->size -= drop;
        }
        memcpy(c->buf + c->size, p, n);
        c->size += n;
}

/* The last TAIL_LINES lines as valid UTF-8, without the final newline. */
static char *capture_tail(const Capture *c) {
        size_t end = c->size, start;
        unsigned lines = 0;

        while (end > 0 && c->buf[end - 1] == '\n')
                end--;
        for (start = end; start > 0; start--)
                if (c->buf[start - 1] == '\n' && ++lines >= TAIL_LINES)
                        break;
        return utf8_sanitize_copy(c->buf + start, end - start, TAIL_MAX, NULL);
}

static bool capture_contains(const Capture *c, const char *needle) {
        return memmem(c->buf, c->size, needle, strlen(needle)) != NULL;
}

/* Reads what is there (fd non-blocking); returns false at EOF. */
static bool capture_drain(Capture *c, int fd) {
        char b[4096];

        for (;;) {
                ssize_t n = read(fd, b, sizeof(b));
                if (n > 0) {
                        (void) loop_write(STDOUT_FILENO, b, n);
                        capture_add(c, b, n);
                        continue;
                }
                if (n == 0)
                        return false;
                return errno == EINTR || errno == EAGAIN;
        }
}

static usec_t now(void) {
        return now_usec(CLOCK_MONOTONIC);
}

static void emit(json_t *j) {
        _cleanup_free_ char *s = NULL;

        if (json_dump_string(j, JSON_DUMP_COMPACT, &s) < 0)
                s = strdup("{\"ok\":false,\"error\":\"out of memory\"}");
        fflush(stdout);
        printf("\n" BOOTSTRAP_STEP_PREFIX "%s\n", strna(s));
        fflush(stdout);
}

static int step_fail(const StepArgs *a, const char *error, const char *tail, usec_t start) {
        _cleanup_json_ json_t *j = json_pack("{s:s, s:b, s:s, s:s?, s:I}", "step", a->step, "ok", 0, "error", error,
                                             "output_tail", tail, "duration_ms",
                                             (json_int_t) ((now() - start) / USEC_PER_MSEC));
        fprintf(stdout, "error: %s\n", error);
        emit(j);
        return 1;
}

/* PATH, HOME, LANG, TMPDIR and the manifest's env: nothing else leaks into the project's commands. */
static int child_env(const StepArgs *a, const char *tmpdir, char ***ret) {
        _cleanup_strv_free_ char **env = NULL;
        static const char *const keep[] = { "PATH", "HOME", "LANG", "TMPDIR" };
        int r;

        for (size_t i = 0; i < ELEMENTSOF(keep); i++) {
                const char *v = streq(keep[i], "TMPDIR") && tmpdir ? tmpdir : getenv(keep[i]);
                _cleanup_free_ char *e = NULL;

                if (!v)
                        continue;
                e = strjoin(keep[i], "=", v);
                if (!e)
                        return -ENOMEM;
                r = strv_extend(&env, e);
                if (r < 0)
                        return r;
        }
        if (a && a->template)
                STRV_FOREACH(e, a->template->checks.env) {
                        r = strv_extend(&env, *e);
                        if (r < 0)
                                return r;
                }
        if (!env && !(env = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

/* Starts argv in `cwd`, in a new process group, output (both streams) into *ret_fd. */
static int spawn_child(char *const *argv, char *const *env, const char *cwd, pid_t *ret_pid, int *ret_fd) {
        int p[2];
        pid_t pid;

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        pid = fork();
        if (pid < 0) {
                safe_close(p[0]);
                safe_close(p[1]);
                return negative_errno();
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
                (void) setpgid(0, 0);
                if (null < 0 || dup2(null, STDIN_FILENO) < 0 || dup2(p[1], STDOUT_FILENO) < 0 ||
                    dup2(p[1], STDERR_FILENO) < 0)
                        _exit(127);
                if (cwd && chdir(cwd) < 0) {
                        dprintf(STDERR_FILENO, "error: cannot enter %s: %m\n", cwd);
                        _exit(127);
                }
                execve(argv[0], argv, env);
                dprintf(STDERR_FILENO, "error: cannot run %s: %m\n", argv[0]);
                _exit(127);
        }
        (void) setpgid(pid, pid);
        safe_close(p[1]);
        (void) fd_set_nonblock(p[0], true);
        *ret_pid = pid;
        *ret_fd = p[0];
        return 0;
}

static bool group_alive(pid_t pgid) {
        return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/* SIGTERM to the group, up to 10 s, then SIGKILL; returns once the leader is reaped and the group
 * is gone. */
static void stop_group(pid_t pid, int fd, Capture *c, int *ret_status) {
        usec_t deadline = now() + STOP_TIMEOUT_USEC;
        bool reaped = false, killed = false;
        int status = 0;

        (void) kill(-pid, SIGTERM);
        for (;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (!reaped && waitpid(pid, &status, WNOHANG) == pid)
                        reaped = true;
                if (reaped && !group_alive(pid))
                        break;
                if (!killed && now() >= deadline) {
                        (void) kill(-pid, SIGKILL);
                        killed = true;
                }
                (void) poll(fd >= 0 ? &pfd : NULL, fd >= 0 ? 1 : 0, PROBE_INTERVAL_MSEC);
                if (fd >= 0 && !capture_drain(c, fd))
                        fd = -1;
        }
        if (ret_status)
                *ret_status = status;
}

/* Runs argv to its end or the timeout; *ret_status is the wait status, -1 on timeout. */
static int run_captured(char *const *argv, char *const *env, const char *cwd, usec_t timeout, Capture *c,
                        int *ret_status) {
        usec_t deadline = now() + timeout;
        _cleanup_close_ int fd = -EBADF;
        pid_t pid;
        int r, status;

        r = spawn_child(argv, env, cwd, &pid, &fd);
        if (r < 0)
                return r;
        for (bool open = true;;) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (!open && waitpid(pid, &status, WNOHANG) == pid)
                        break;
                if (now() >= deadline) {
                        stop_group(pid, open ? fd : -1, c, NULL);
                        *ret_status = -1;
                        return 0;
                }
                (void) poll(open ? &pfd : NULL, open ? 1 : 0, PROBE_INTERVAL_MSEC);
                if (open && !capture_drain(c, fd))
                        open = false;
        }
        /* Leftovers of the group (a daemonised grandchild) are stopped too. */
        if (group_alive(pid))
                stop_group(pid, -1, c, NULL);
        *ret_status = status;
        return 0;
}

static int rm_rf_one(const char *path, const struct stat *st, int type, struct FTW *f) {
        return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int rm_rf(const char *path) {
        struct stat st;

        if (lstat(path, &st) < 0)
                return errno == ENOENT ? 0 : negative_errno();
        if (!S_ISDIR(st.st_mode))
                return RET_NERRNO(unlink(path));
        return nftw(path, rm_rf_one, 16, FTW_DEPTH | FTW_PHYS) < 0 ? negative_errno() : 0;
}

/* ---- render ---- */

static int list_one(const char *path, const struct stat *st, int type, struct FTW *f, json_t *files,
                    size_t skip) {
        if (type != FTW_F && type != FTW_SL)
                return 0;
        if (json_array_size(files) >= FILES_MAX)
                return 1;
        return json_array_append_new(files, json_string(path + skip)) < 0 ? -1 : 0;
}

static json_t *list_files_result;
static size_t list_files_skip;
static int list_files_cb(const char *path, const struct stat *st, int type, struct FTW *f) {
        return list_one(path, st, type, f, list_files_result, list_files_skip);
}

static int string_cmp(const void *a, const void *b) {
        return strcmp(json_string_value(*(json_t *const *) a), json_string_value(*(json_t *const *) b));
}

/* The project's files, relative to it, sorted. */
static json_t *list_files(const char *dir) {
        json_t *files = json_array();
        json_t **v;
        size_t n;

        if (!files)
                return NULL;
        list_files_result = files;
        list_files_skip = strlen(dir) + 1;
        (void) nftw(dir, list_files_cb, 16, FTW_PHYS);
        n = json_array_size(files);
        v = calloc(n + 1, sizeof(json_t *));
        if (!v)
                return files;
        for (size_t i = 0; i < n; i++)
                v[i] = json_incref(json_array_get(files, i));
        qsort(v, n, sizeof(json_t *), string_cmp);
        json_array_clear(files);
        for (size_t i = 0; i < n; i++)
                (void) json_array_append_new(files, v[i]);
        free(v);
        return files;
}

/* The interpreter and the modules the stack needs, with the fix when they are missing. */
static int check_requires(const StepArgs *a, char **ret_error) {
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_free_ char *debs = NULL;
        Capture c = {};
        int r, status;

        STRV_FOREACH(d, a->template->requires_debian) {
                char *x = strjoin(strempty(debs), debs ? " " : "", *d);
                if (!x)
                        return -ENOMEM;
                free(debs);
                debs = x;
        }
        r = strv_extend(&argv, a->python);
        if (r >= 0)
                r = strv_extend(&argv, "-c");
        if (r >= 0)
                r = strv_extend(&argv, "import importlib.util, sys\n"
                                       "m = [n for n in sys.argv[1:] if importlib.util.find_spec(n) is None]\n"
                                       "print('missing:', ' '.join(m)) if m else None\n"
                                       "sys.exit(1 if m else 0)\n");
        STRV_FOREACH(m, a->template->requires_modules)
                if (r >= 0)
                        r = strv_extend(&argv, *m);
        if (r >= 0)
                r = child_env(NULL, NULL, &env);
        if (r < 0)
                return r;
        if (access(a->python, X_OK) < 0)
                return asprintf_safe(ret_error, "%s cannot be run (%m): install the Debian packages %s (dev/setup installs them)",
                                     a->python, strna(debs)) < 0 ? -ENOMEM : -ENOENT;
        r = run_captured(argv, env, NULL, 60 * USEC_PER_SEC, &c, &status);
        if (r < 0)
                return r;
        if (status != 0) {
                _cleanup_free_ char *tail = capture_tail(&c);
                return asprintf_safe(ret_error,
                                     "%s lacks Python modules the %s template needs (%s): install the Debian packages %s "
                                     "(dev/setup installs them)",
                                     a->python, a->stack, strna(tail), strna(debs)) < 0 ? -ENOMEM : -ENOENT;
        }
        return 0;
}

static int write_file(const char *path, const char *text) {
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return negative_errno();
        return loop_write(fd, text, strlen(text));
}

/* The scratch folder: cookiecutter's config, state and TMPDIR, and the staging folder. */
static int make_scratch(char **ret_abs) {
        _cleanup_free_ char *cwd = getcwd(NULL, 0), *abs = NULL, *config = NULL;
        static const char *const dirs[] = { BOOTSTRAP_SCRATCH, BOOTSTRAP_SCRATCH "/tmp", BOOTSTRAP_SCRATCH "/staging",
                                            BOOTSTRAP_SCRATCH "/cookiecutters", BOOTSTRAP_SCRATCH "/replay" };
        int r;

        if (!cwd)
                return -ENOMEM;
        r = rm_rf(BOOTSTRAP_SCRATCH);
        if (r < 0)
                return r;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++)
                if (mkdir(dirs[i], 0700) < 0)
                        return negative_errno();
        abs = strjoin(cwd, "/" BOOTSTRAP_SCRATCH);
        if (!abs)
                return -ENOMEM;
        if (asprintf_safe(&config, "cookiecutters_dir: %s/cookiecutters\nreplay_dir: %s/replay\n", abs, abs) < 0)
                return -ENOMEM;
        r = write_file(BOOTSTRAP_SCRATCH "/cookiecutter.yaml", config);
        if (r < 0)
                return r;
        *ret_abs = TAKE_PTR(abs);
        return 0;
}

static int cookiecutter_argv(const StepArgs *a, const char *scratch, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_free_ char *config = strjoin(scratch, "/cookiecutter.yaml"), *staging = strjoin(scratch, "/staging"),
                            *src = strjoin(a->templates_dir, "/", a->stack);
        const char *fixed[] = { a->python, "-m", "cookiecutter", "--no-input", "--config-file", config,
                                "--output-dir", staging, src };
        int r;

        if (!config || !staging || !src)
                return -ENOMEM;
        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                r = strv_extend(&argv, fixed[i]);
                if (r < 0)
                        return r;
        }
        STRV_FOREACH(v, a->values) {
                r = strv_extend(&argv, *v);
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(argv);
        return 0;
}

/* Every file the manifest lists is there, and none it leaves out. */
static int check_files(const StepArgs *a, const char *dir, char **ret_error) {
        _cleanup_strv_free_ char **present = NULL, **absent = NULL;
        int r;

        r = template_files(a->template, a->values, &present, &absent);
        if (r < 0)
                return r;
        STRV_FOREACH(p, present) {
                _cleanup_free_ char *f = strjoin(dir, "/", *p);
                if (!f)
                        return -ENOMEM;
                if (access(f, F_OK) < 0)
                        return asprintf_safe(ret_error, "the template did not render %s", *p) < 0 ? -ENOMEM : -EBADMSG;
        }
        STRV_FOREACH(p, absent) {
                _cleanup_free_ char *f = strjoin(dir, "/", *p);
                if (!f)
                        return -ENOMEM;
                if (access(f, F_OK) >= 0)
                        return asprintf_safe(ret_error, "the template rendered %s, which the options leave out", *p) < 0
                                       ? -ENOMEM
                                       : -EBADMSG;
        }
        return 0;
}

static int step_render(StepArgs *a) {
        _cleanup_free_ char *scratch = NULL, *tmpdir = NULL, *why = NULL, *staged = NULL, *tail = NULL;
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_json_ json_t *j = NULL;
        usec_t start = now();
        struct stat st;
        Capture c = {};
        int r, status;

        if (lstat(a->project_dir, &st) >= 0 && !a->force)
                return step_fail(a, "the project folder already exists in the workspace: give force to replace it",
                                 NULL, start);
        r = check_requires(a, &why);
        if (r < 0)
                return step_fail(a, why ?: strerror(-r), NULL, start);
        r = make_scratch(&scratch);
        if (r < 0)
                return step_fail(a, "cannot make the scratch folder in the workspace", NULL, start);
        tmpdir = strjoin(scratch, "/tmp");
        staged = strjoin(BOOTSTRAP_SCRATCH "/staging/", a->project_dir);
        if (!tmpdir || !staged || cookiecutter_argv(a, scratch, &argv) < 0 || child_env(NULL, tmpdir, &env) < 0)
                return step_fail(a, "out of memory", NULL, start);

        printf("rendering %s with cookiecutter\n", a->stack);
        fflush(stdout);
        r = run_captured(argv, env, NULL, 300 * USEC_PER_SEC, &c, &status);
        tail = capture_tail(&c);
        if (r < 0 || status != 0) {
                (void) rm_rf(BOOTSTRAP_SCRATCH);
                return step_fail(a, status < 0 ? "cookiecutter timed out" : "cookiecutter failed", tail, start);
        }
        r = check_files(a, staged, &why);
        if (r < 0) {
                (void) rm_rf(BOOTSTRAP_SCRATCH);
                return step_fail(a, why ?: strerror(-r), tail, start);
        }
        /* Only now is an old project replaced: a failed render leaves it as it was. */
        if (a->force)
                (void) rm_rf(a->project_dir);
        if (rename(staged, a->project_dir) < 0) {
                _cleanup_free_ char *m = NULL;
                (void) asprintf_safe(&m, "cannot move the project into place: %m");
                (void) rm_rf(BOOTSTRAP_SCRATCH);
                return step_fail(a, strna(m), tail, start);
        }
        (void) rm_rf(BOOTSTRAP_SCRATCH);
        j = json_pack("{s:s, s:b, s:s, s:o, s:s?, s:I}", "step", "render", "ok", 1, "path", a->project_dir, "files",
                      list_files(a->project_dir), "output_tail", tail, "duration_ms",
                      (json_int_t) ((now() - start) / USEC_PER_MSEC));
        emit(j);
        return 0;
}

/* ---- test ---- */

static int step_test(StepArgs *a) {
        _cleanup_strv_free_ char **argv = NULL, **env = NULL;
        _cleanup_free_ char *why = NULL, *tail = NULL;
        _cleanup_json_ json_t *j = NULL;
        usec_t start = now();
        Capture c = {};
        int r, status;

        r = template_expand_strv(a->template->checks.test, a->values, a->python, NULL, &argv, &why);
        if (r < 0)
                return step_fail(a, why ?: strerror(-r), NULL, start);
        r = child_env(a, getenv("TMPDIR"), &env);
        if (r < 0)
                return step_fail(a, "out of memory", NULL, start);
        r = run_captured(argv, env, a->project_dir, a->template->checks.test_timeout_sec * USEC_PER_SEC, &c, &status);
        tail = capture_tail(&c);
        if (r < 0)
                return step_fail(a, strerror(-r), tail, start);
        if (status != 0) {
                _cleanup_free_ char *m = NULL;
                if (status < 0)
                        (void) asprintf_safe(&m, "the project's tests did not finish within %u s",
                                             a->template->checks.test_timeout_sec);
                else if (WIFEXITED(status))
                        (void) asprintf_safe(&m, "the project's tests failed (exit status %d)", WEXITSTATUS(status));
                else
                        (void) asprintf_safe(&m, "the project's tests were killed by signal %d", WTERMSIG(status));
                return step_fail(a, strna(m), tail, start);
        }
        j = json_pack("{s:s, s:b, s:s?, s:I}", "step", "test", "ok", 1, "output_tail", tail, "duration_ms",
                      (json_int_t) ((now() - start) / USEC_PER_MSEC));
        emit(j);
        return 0;
}

/* ---- serve ---- */

static int free_port(unsigned *ret) {
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof(sa);

        if (fd < 0)
                return negative_errno();
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *) &sa, &len) < 0)
                return negative_errno();
        *ret = ntohs(sa.sin_port);
        return 0;
}

/* One GET: 1 with status and body when something answered, 0 when nothing listens yet. */
static int http_get(unsigned port, const char *path, unsigned *ret_status, char **ret_body) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timeval tv = { .tv_sec = 2 };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        _cleanup_free_ char *req = NULL, *resp = NULL;
        size_t size = 0;
        unsigned status;
        char *body;

        if (fd < 0)
                return negative_errno();
        (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0)
                return 0;
        if (asprintf_safe(&req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%u\r\nAccept: application/json\r\n"
                                "Connection: close\r\n\r\n", path, port) < 0)
                return -ENOMEM;
        if (loop_write(fd, req, strlen(req)) < 0)
                return 0;
        resp = malloc(65537);
        if (!resp)
                return -ENOMEM;
        for (;;) {
                ssize_t n = read(fd, resp + size, 65536 - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return 0; /* reset or timed out: not ready */
                if (n == 0 || (size += n) >= 65536)
                        break;
        }
        resp[size] = 0;
        if (size == 0 || sscanf(resp, "HTTP/1.%*1[01] %3u", &status) != 1)
                return 0;
        body = strstr(resp, "\r\n\r\n");
        *ret_status = status;
        *ret_body = strdup(body ? body + 4 : "");
        return *ret_body ? 1 : -ENOMEM;
}

typedef enum ServeOutcome { SERVE_OK, SERVE_RETRY, SERVE_FAILED } ServeOutcome;

static ServeOutcome serve_once(StepArgs *a, char *const *env, Capture *c, unsigned *ret_port, char **ret_error) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *body = NULL;
        char portstr[16];
        unsigned port = 0, status = 0;
        usec_t deadline;
        bool open = true, answered = false;
        pid_t pid;
        int r, wstatus;

        if (free_port(&port) < 0) {
                *ret_error = strdup("cannot find a free loopback port");
                return SERVE_FAILED;
        }
        *ret_port = port;
        snprintf(portstr, sizeof(portstr), "%u", port);
        r = template_expand_strv(a->template->checks.serve, a->values, a->python, portstr, &argv, ret_error);
        if (r < 0)
                return SERVE_FAILED;
        printf("starting the dev server on 127.0.0.1:%u\n", port);
        fflush(stdout);
        c->size = 0;
        r = spawn_child(argv, env, a->project_dir, &pid, &fd);
        if (r < 0) {
                (void) asprintf_safe(ret_error, "cannot start the dev server: %s", strerror(-r));
                return SERVE_FAILED;
        }
        deadline = now() + a->template->checks.serve_timeout_sec * USEC_PER_SEC;
        while (!answered) {
                struct pollfd pfd = { .fd = fd, .events = POLLIN };

                if (waitpid(pid, &wstatus, WNOHANG) == pid) {
                        if (open)
                                (void) capture_drain(c, fd);
                        if (group_alive(pid))
                                stop_group(pid, -1, c, NULL);
                        if (capture_contains(c, "already in use"))
                                return SERVE_RETRY;
                        (void) asprintf_safe(ret_error, "the dev server exited before answering %s",
                                             a->template->checks.health_path);
                        return SERVE_FAILED;
                }
                r = http_get(port, a->template->checks.health_path, &status, &body);
                if (r > 0)
                        answered = true;
                else if (now() >= deadline)
                        break;
                else
                        (void) poll(open ? &pfd : NULL, open ? 1 : 0, PROBE_INTERVAL_MSEC);
                if (open && !capture_drain(c, fd))
                        open = false;
        }
        stop_group(pid, open ? fd : -1, c, NULL);
        if (!answered) {
                (void) asprintf_safe(ret_error, "the dev server did not answer %s within %u s",
                                     a->template->checks.health_path, a->template->checks.serve_timeout_sec);
                return SERVE_FAILED;
        }
        {
                _cleanup_json_ json_t *got = NULL;
                _cleanup_free_ char *q = NULL;

                (void) json_parse(body, strlen(body), 65536, 0, JSON_PARSE_ANY_VALUE, &got, NULL);
                (void) json_quote(body, 200, &q);
                printf("GET %s: %u %s\n", a->template->checks.health_path, status, strna(q));
                if (status != a->template->checks.health_status || !got ||
                    !json_equal(got, a->template->checks.health_json)) {
                        (void) asprintf_safe(ret_error, "GET %s answered %u %s, expected %u and the manifest's JSON",
                                             a->template->checks.health_path, status, strna(q),
                                             a->template->checks.health_status);
                        return SERVE_FAILED;
                }
        }
        /* Stopped: the group is gone; nothing may answer on the port any more. */
        {
                _cleanup_free_ char *b = NULL;
                unsigned s;
                if (http_get(port, a->template->checks.health_path, &s, &b) > 0) {
                        *ret_error = strdup("something still answers on the port after the server was stopped");
                        return SERVE_FAILED;
                }
        }
        printf("stopped the dev server\n");
        return SERVE_OK;
}

static int step_serve(StepArgs *a) {
        _cleanup_strv_free_ char **env = NULL;
        _cleanup_free_ char *why = NULL, *tail = NULL;
        _cleanup_json_ json_t *j = NULL;
        usec_t start = now();
        ServeOutcome o = SERVE_RETRY;
        unsigned port = 0;
        Capture c = {};

        if (child_env(a, getenv("TMPDIR"), &env) < 0)
                return step_fail(a, "out of memory", NULL, start);
        for (unsigned i = 0; i < SERVE_TRIES && o == SERVE_RETRY; i++) {
                why = mfree(why);
                o = serve_once(a, env, &c, &port, &why);
                if (o == SERVE_RETRY)
                        printf("port %u was taken meanwhile, trying another\n", port);
        }
        tail = capture_tail(&c);
        if (o == SERVE_RETRY)
                return step_fail(a, "the dev server found its port taken three times", tail, start);
        if (o == SERVE_FAILED)
                return step_fail(a, why ?: "the dev server check failed", tail, start);
        j = json_pack("{s:s, s:b, s:i, s:s?, s:I}", "step", "serve", "ok", 1, "port", (int) port, "output_tail", tail,
                      "duration_ms", (json_int_t) ((now() - start) / USEC_PER_MSEC));
        emit(j);
        return 0;
}

/* ---- clean ---- */

static int step_clean(StepArgs *a) {
        _cleanup_strv_free_ char **paths = NULL;
        _cleanup_json_ json_t *j = NULL, *removed = json_array();
        usec_t start = now();

        (void) rm_rf(BOOTSTRAP_SCRATCH);
        if (template_expand_strv(a->template->checks.cleanup, a->values, a->python, NULL, &paths, NULL) < 0)
                return step_fail(a, "out of memory", NULL, start);
        STRV_FOREACH(p, paths) {
                _cleanup_free_ char *f = strjoin(a->project_dir, "/", *p);
                struct stat st;

                if (!f)
                        return step_fail(a, "out of memory", NULL, start);
                if (lstat(f, &st) < 0)
                        continue;
                if (rm_rf(f) < 0)
                        return step_fail(a, "cannot remove what the checks left", NULL, start);
                (void) json_array_append_new(removed, json_string(*p));
        }
        j = json_pack("{s:s, s:b, s:O, s:I}", "step", "clean", "ok", 1, "removed", removed, "duration_ms",
                      (json_int_t) ((now() - start) / USEC_PER_MSEC));
        emit(j);
        return 0;
}

/* ---- command line ---- */

static void step_args_done(StepArgs *a) {
        template_free(a->template);
        strv_free(a->values);
        free(a->project_dir);
}

static int step_parse(int argc, char *argv[], StepArgs *a) {
        static const struct option options[] = {
                { "templates-dir", required_argument, NULL, 'T' },
                { "python", required_argument, NULL, 'P' },
                { "stack", required_argument, NULL, 'S' },
                { "force", no_argument, NULL, 'f' },
                {},
        };
        int c;

        if (argc < 2)
                return -EINVAL;
        a->step = argv[1];
        optind = 2;
        while ((c = getopt_long(argc, argv, "+", options, NULL)) >= 0)
                switch (c) {
                case 'T':
                        a->templates_dir = optarg;
                        break;
                case 'P':
                        a->python = optarg;
                        break;
                case 'S':
                        a->stack = optarg;
                        break;
                case 'f':
                        a->force = true;
                        break;
                default:
                        return -EINVAL;
                }
        if (!a->templates_dir || !a->python || !a->stack || a->python[0] != '/' || a->templates_dir[0] != '/')
                return -EINVAL;
        a->assignments = argv + optind;
        return 0;
}

int bootstrap_step_main(int argc, char *argv[]) {
        _cleanup_(step_args_done) StepArgs a = {};
        _cleanup_free_ char *why = NULL;
        usec_t start = now();
        int r;

        r = step_parse(argc, argv, &a);
        if (r < 0) {
                fprintf(stderr, "Usage: troupe-agent-bootstrap step render|test|serve|clean --templates-dir=DIR "
                                "--python=PATH --stack=STACK [--force] [--] KEY=VALUE...\n");
                return 2;
        }
        if (!streq(a.step, "render") && !streq(a.step, "test") && !streq(a.step, "serve") && !streq(a.step, "clean"))
                return step_fail(&a, "unknown step: expected render, test, serve or clean", NULL, start);
        r = template_load(a.templates_dir, a.stack, &a.template, &why);
        if (r < 0)
                return step_fail(&a, why ?: strerror(-r), NULL, start);
        /* The agent checked them; checked again here, where they are used. */
        r = template_values_build(a.template, a.assignments, NULL, &a.values, &why);
        if (r < 0)
                return step_fail(&a, why ?: strerror(-r), NULL, start);
        r = template_expand(a.template->project_dir, a.values, a.python, NULL, &a.project_dir, &why);
        if (r < 0)
                return step_fail(&a, why ?: strerror(-r), NULL, start);
        if (!name_is_valid(a.project_dir, TEMPLATE_NAME_MAX))
                return step_fail(&a, "the project folder's name is not a plain name", NULL, start);

        if (streq(a.step, "render"))
                return step_render(&a);
        if (streq(a.step, "test"))
                return step_test(&a);
        if (streq(a.step, "serve"))
                return step_serve(&a);
        return step_clean(&a);
}
