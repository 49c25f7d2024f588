/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The supervisor's logic without a bus: the suite table, Spawn() validation, the child's
 * environment, the confinement report, spawning, and process logs with rotation and readers. */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "check-main.h"
#include "confinement.h"
#include "json/json-util.h"
#include "log-reader.h"
#include "process-log.h"
#include "spawn-options.h"
#include "spawn.h"
#include "suite.h"
#include "workspace.h"

static int parse(const char *text) {
        SuiteMember *m = NULL;
        size_t n = 0;
        int r = suite_parse_table(text, &m, &n);

        if (r >= 0) {
                ck_assert_ptr_nonnull(m);
                suite_members_free(m, n);
                return (int) n;
        }
        return r;
}

START_TEST(test_suite_table) {
        ck_assert_int_eq(parse("# the suite\n\n"
                               "registry org.troupe.Registry1 on-failure troupe-registryd\n"
                               "  router\torg.troupe.Router1  always /usr/bin/x --flag value\n"),
                         2);
        ck_assert_int_eq(parse("a org.a no /bin/true"), 1); /* no final newline */
        ck_assert_int_eq(parse("a org.a no"), -EINVAL);
        ck_assert_int_eq(parse("A org.a no /bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("a :1.2 no /bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("a org no /bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("a org.a sometimes /bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("a org.a no bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("a org.a no /bin/true\na org.b no /bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("a org.a no /bin/true\nb org.a no /bin/true\n"), -EINVAL);
        ck_assert_int_eq(parse("# nothing\n"), -EINVAL);
        ck_assert_int_eq(parse(""), -EINVAL);
}
END_TEST

START_TEST(test_suite_table_limits) {
        _cleanup_free_ char *many = NULL, *args = strdup("a org.a no /bin/true");

        for (unsigned i = 0; i <= SUITE_MEMBERS_MAX; i++) {
                char *t = NULL;
                ck_assert_int_eq(asprintf_safe(&t, "%sm%u org.m%u no /bin/true\n", strempty(many), i, i), 0);
                free(many);
                many = t;
        }
        ck_assert_int_eq(parse(many), -E2BIG);

        for (unsigned i = 0; i <= 32; i++) {
                char *t = strjoin(args, " x");
                ck_assert_ptr_nonnull(t);
                free(args);
                args = t;
        }
        ck_assert_int_eq(parse(args), -E2BIG);
}
END_TEST

START_TEST(test_names_and_argv) {
        char *good[] = {(char *) "/bin/true", (char *) "arg", NULL};
        char *relative[] = {(char *) "true", NULL};
        char *empty[] = {NULL};

        ck_assert_int_eq(spawn_name_validate("echo", NULL), 0);
        ck_assert_int_eq(spawn_name_validate("Echo", NULL), -EINVAL);
        ck_assert_int_eq(spawn_name_validate("", NULL), -EINVAL);
        ck_assert_int_eq(spawn_name_validate("a/b", NULL), -EINVAL);
        ck_assert_int_eq(spawn_argv_validate(good, NULL), 0);
        ck_assert_int_eq(spawn_argv_validate(relative, NULL), -EINVAL);
        ck_assert_int_eq(spawn_argv_validate(empty, NULL), -EINVAL);

        ck_assert_int_eq(spawn_check_executable("/bin/sh"), 0);
        ck_assert_int_eq(spawn_check_executable("/nonexistent"), -ENOENT);
        ck_assert_int_eq(spawn_check_executable("/"), -EISDIR);
}
END_TEST

START_TEST(test_options_validate) {
        SpawnOptions o;

        spawn_options_init(&o);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);
        ck_assert_int_eq(o.stop_timeout_usec, SPAWN_STOP_TIMEOUT_DEFAULT_USEC);

        o.profile = strdup("agent");
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);
        ck_assert_int_eq(free_and_strdup(&o.profile, "jail"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.profile = mfree(o.profile);

        ck_assert_int_eq(free_and_strdup(&o.profile, "unconfined"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);
        o.profile = mfree(o.profile);

        /* Read-only paths: absolute and existing. */
        ck_assert_int_eq(strv_extend(&o.read_only, "/usr"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);
        ck_assert_int_eq(strv_extend(&o.read_only, "usr"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.read_only = strv_free(o.read_only);
        ck_assert_int_eq(strv_extend(&o.read_only, "/nonexistent/file"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.read_only = strv_free(o.read_only);

        /* HOME and TMPDIR are the supervisor's to set when there is a workspace. */
        ck_assert_int_eq(strv_extend(&o.env, "HOME=/elsewhere"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);
        o.workspace = strdup("/ws");
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        ck_assert_int_eq(free_and_strdup(&o.profile, "unconfined"), 0);
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);
        o.profile = mfree(o.profile);
        o.workspace = mfree(o.workspace);
        o.env = strv_free(o.env);

        o.cpu_weight = 0;
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.cpu_weight = 10001;
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.cpu_weight = 100;
        o.memory_max = 0;
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.memory_max = SPAWN_LIMIT_UNSET;
        o.stop_timeout_usec = SPAWN_STOP_TIMEOUT_MAX_USEC + 1;
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        o.stop_timeout_usec = 0;
        ck_assert_int_eq(spawn_options_validate(&o, NULL), 0);

        o.workspace = strdup("relative");
        ck_assert_int_eq(spawn_options_validate(&o, NULL), -EINVAL);
        spawn_options_done(&o);
}
END_TEST

START_TEST(test_env) {
        _cleanup_strv_free_ char **env = NULL, **suite = NULL, **private = NULL;
        SpawnOptions o;

        ck_assert(env_assignment_is_valid("A=b"));
        ck_assert(env_assignment_is_valid("_x1="));
        ck_assert(!env_assignment_is_valid("=b"));
        ck_assert(!env_assignment_is_valid("1A=b"));
        ck_assert(!env_assignment_is_valid("A-B=c"));
        ck_assert(!env_assignment_is_valid("AB"));

        ck_assert_int_eq(setenv("SUPERVISOR_SECRET", "x", 1), 0);
        ck_assert_int_eq(setenv("XDG_TEST_DIR", "/x", 1), 0);
        ck_assert_int_eq(setenv("TROUPE_AGENT_PATH", "/agents", 1), 0);
        ck_assert_int_eq(setenv("HOME", "/home/test", 1), 0);
        ck_assert_int_eq(setenv("TROUPE_STATE_DIR", "/state", 1), 0);

        spawn_options_init(&o);
        o.agent = true;
        o.workspace = strdup("/ws");
        ck_assert_int_eq(strv_extend(&o.env, "HOME=/elsewhere"), 0);
        ck_assert_int_eq(strv_extend(&o.env, "FOO=bar"), 0);
        ck_assert_int_eq(spawn_build_env(&o, "0123456789abcdef", NULL, &env), 0);
        ck_assert(!strv_contains(env, "SUPERVISOR_SECRET=x"));
        ck_assert(!strv_contains(env, "XDG_TEST_DIR=/x"));
        ck_assert(!strv_contains(env, "TROUPE_AGENT_PATH=/agents"));
        ck_assert(!strv_contains(env, "HOME=/home/test"));
        ck_assert(strv_contains(env, "HOME=/elsewhere"));
        ck_assert(strv_contains(env, "FOO=bar"));
        ck_assert(strv_contains(env, "TROUPE_STATE_DIR=/state"));
        ck_assert(strv_contains(env, "TROUPE_PROCESS_ID=0123456789abcdef"));
        ck_assert(strv_contains(env, "TROUPE_WORKSPACE=/ws"));
        ck_assert(strv_contains(env, "TROUPE_AGENT_FD=3"));
        ck_assert_ptr_nonnull(*env); /* PATH at least */
        ck_assert(startswith(env[0], "PATH="));

        spawn_options_done(&o);
        spawn_options_init(&o);
        o.env_mode = SPAWN_ENV_SUITE;
        ck_assert_int_eq(spawn_build_env(&o, "0123456789abcdef", NULL, &suite), 0);
        ck_assert(strv_contains(suite, "XDG_TEST_DIR=/x"));
        ck_assert(strv_contains(suite, "TROUPE_AGENT_PATH=/agents"));
        ck_assert(!strv_contains(suite, "SUPERVISOR_SECRET=x"));
        ck_assert(!strv_contains(suite, "TROUPE_AGENT_FD=3"));
        spawn_options_done(&o);

        /* With a workspace: HOME and TMPDIR beneath it, never the supervisor's. */
        spawn_options_init(&o);
        o.workspace = strdup("/ws");
        ck_assert_int_eq(spawn_build_env(&o, "0123456789abcdef", "/ws/.troupe", &private), 0);
        ck_assert(strv_contains(private, "HOME=/ws/.troupe/home"));
        ck_assert(strv_contains(private, "TMPDIR=/ws/.troupe/tmp"));
        ck_assert(!strv_contains(private, "HOME=/home/test"));
        spawn_options_done(&o);
}
END_TEST

START_TEST(test_confinement_requested) {
        _cleanup_json_ json_t *empty = NULL, *full = NULL;
        _cleanup_free_ char *text = NULL;
        SpawnOptions o;

        spawn_options_init(&o);
        ck_assert_int_eq(confinement_requested(&o, &empty), 0);
        ck_assert_int_eq(json_object_size(empty), 0);
        ck_assert_int_eq(confinement_choose_profile(&o), SANDBOX_PROFILE_AGENT);
        ck_assert(!confinement_has_private_dirs(&o));

        o.workspace = strdup("/ws");
        ck_assert_int_eq(confinement_choose_profile(&o), SANDBOX_PROFILE_TASK);
        ck_assert(confinement_has_private_dirs(&o));
        o.profile = strdup("agent");
        ck_assert_int_eq(confinement_choose_profile(&o), SANDBOX_PROFILE_AGENT);
        o.env_mode = SPAWN_ENV_SUITE;
        ck_assert_int_eq(confinement_choose_profile(&o), SANDBOX_PROFILE_UNCONFINED);
        ck_assert(!confinement_has_private_dirs(&o));
        o.env_mode = SPAWN_ENV_SCRUBBED;

        ck_assert_int_eq(free_and_strdup(&o.profile, "task"), 0);
        o.memory_max = 1 << 20;
        ck_assert_int_eq(strv_extend(&o.capabilities, "net.loopback"), 0);
        ck_assert_int_eq(strv_extend(&o.read_only, "/usr"), 0);
        ck_assert_int_eq(confinement_requested(&o, &full), 0);
        ck_assert_int_eq(json_dump_string(full, JSON_DUMP_COMPACT, &text), 0);
        ck_assert_str_eq(text, "{\"profile\":\"task\",\"memory_max\":1048576,"
                               "\"capabilities\":[\"net.loopback\"],\"read_only\":[\"/usr\"]}");
        spawn_options_done(&o);
}
END_TEST

START_TEST(test_read_only_parse) {
        _cleanup_strv_free_ char **l = NULL;
        const char *bad = NULL;

        ck_assert_int_eq(confinement_read_only_parse("/usr::/etc:", &l), 0);
        ck_assert_int_eq(strv_length(l), 2);
        ck_assert_str_eq(l[0], "/usr");
        ck_assert_str_eq(l[1], "/etc");
        ck_assert_int_eq(confinement_read_only_validate(l, &bad), 0);
        ck_assert_int_eq(confinement_read_only_parse(NULL, &l), 0);
        ck_assert_int_eq(confinement_read_only_parse("relative", &l), 0);
        ck_assert_int_eq(confinement_read_only_validate(l, &bad), -EINVAL);
        ck_assert_str_eq(bad, "relative");
}
END_TEST

static pid_t spawn_sh(const char *script, int out_fd, int cwd_fd, SpawnFailure *failure, int *ret) {
        char *argv[] = {(char *) "/bin/sh", (char *) "-c", (char *) script, NULL};
        char *envp[] = {(char *) "PATH=/usr/bin:/bin", (char *) "ONLY=this", NULL};
        SpawnRequest req;
        pid_t pid = 0;

        req = (SpawnRequest) { .argv = argv, .envp = envp, .cwd_fd = cwd_fd, .output_fd = out_fd,
                               .agent_fd = -EBADF };
        *ret = spawn_start(&req, &pid, failure);
        return pid;
}

START_TEST(test_spawn) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, tmp_fd = -EBADF;
        _cleanup_free_ char *data = NULL;
        char *argv[] = {(char *) "/nonexistent", NULL}, *envp[] = {NULL};
        SpawnRequest req;
        SpawnFailure failure = {.step = _SPAWN_STEP_INVALID};
        int fds[2], status, r;
        pid_t pid;

        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        out_r = fds[0];
        out_w = fds[1];
        tmp_fd = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(tmp_fd, 0);

        /* Ignored and blocked here; the child must start with neither. */
        signal(SIGUSR1, SIG_IGN);
        pid = spawn_sh("echo out; echo err >&2; pwd; env; ls /proc/self/fd | tr '\\n' ' '; echo;"
                       "kill -USR1 $$; echo survived",
                       out_w, tmp_fd, &failure, &r);
        signal(SIGUSR1, SIG_DFL);
        ck_assert_int_eq(r, 0);
        out_w = safe_close(out_w);
        ck_assert_int_eq(read_full_fd(out_r, 1 << 20, &data, NULL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGUSR1);
        ck_assert_ptr_nonnull(strstr(data, "out\nerr\n/tmp\n"));
        ck_assert_ptr_nonnull(strstr(data, "ONLY=this\n"));
        ck_assert_ptr_null(strstr(data, "survived"));
        /* ls itself has its directory open as a further fd. */
        ck_assert_ptr_nonnull(strstr(data, "\n0 1 2 3 \n"));

        req = (SpawnRequest) { .argv = argv, .envp = envp, .cwd_fd = -EBADF, .output_fd = STDERR_FILENO,
                               .agent_fd = -EBADF };
        ck_assert_int_eq(spawn_start(&req, &pid, &failure), -ENOENT);
        ck_assert_int_eq(failure.step, SPAWN_STEP_EXEC);
        ck_assert_str_eq(spawn_step_to_string(failure.step), "exec");
        ck_assert_str_eq(failure.layer, "");
}
END_TEST

static bool is_private_dir(const char *path) {
        struct stat st;

        return lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 07777) == 0700;
}

START_TEST(test_workspace) {
        char ws[] = "/tmp/test-supervisor-ws-XXXXXX";
        _cleanup_free_ char *sub = NULL, *link = NULL, *priv = NULL, *home = NULL, *tmp = NULL, *dots = NULL;
        SpawnWorkspace w = SPAWN_WORKSPACE_NULL;
        SpawnOptions o;
        char cwd[PATH_MAX];

        ck_assert_ptr_nonnull(mkdtemp(ws));
        sub = strjoin(ws, "/sub");
        link = strjoin(ws, "/link");
        priv = strjoin(ws, "/.troupe");
        home = strjoin(ws, "/.troupe/home");
        tmp = strjoin(ws, "/.troupe/tmp");
        dots = strjoin(ws, "/sub/..");
        ck_assert_int_eq(mkdir(sub, 0755), 0);
        ck_assert_int_eq(symlink("/etc", link), 0);

        /* The workspace is the cwd; the private directories are made, 0700. */
        spawn_options_init(&o);
        o.workspace = strdup(ws);
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), 0);
        ck_assert_str_eq(w.private_dir, priv);
        ck_assert(is_private_dir(priv) && is_private_dir(home) && is_private_dir(tmp));
        ck_assert_int_eq(fchdir(w.cwd_fd), 0);
        ck_assert_str_eq(getcwd(cwd, sizeof(cwd)), ws);
        spawn_workspace_done(&w);

        /* A cwd beneath it is used; one outside, through "..", or through a symlink is refused. */
        o.cwd = strdup(sub);
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), 0);
        ck_assert_int_eq(fchdir(w.cwd_fd), 0);
        ck_assert_str_eq(getcwd(cwd, sizeof(cwd)), sub);
        spawn_workspace_done(&w);
        ck_assert_int_eq(free_and_strdup(&o.cwd, "/etc"), 0);
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), -EINVAL);
        ck_assert_int_eq(free_and_strdup(&o.cwd, dots), 0);
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), -EINVAL);
        ck_assert_int_eq(free_and_strdup(&o.cwd, link), 0);
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), -EINVAL);
        ck_assert_int_lt(w.cwd_fd, 0);

        /* Unconfined: no private directories (the user's own tools keep the real home). */
        o.cwd = mfree(o.cwd);
        o.profile = strdup("unconfined");
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), 0);
        ck_assert_ptr_null(w.private_dir);
        spawn_workspace_done(&w);

        /* Something other than a directory in place of .troupe is refused, not followed. */
        o.profile = mfree(o.profile);
        ck_assert_int_eq(rmdir(home), 0);
        ck_assert_int_eq(rmdir(tmp), 0);
        ck_assert_int_eq(rmdir(priv), 0);
        ck_assert_int_eq(symlink("/tmp", priv), 0);
        ck_assert_int_eq(spawn_workspace_open(&o, NULL, &w), -EINVAL);
        ck_assert_int_eq(unlink(priv), 0);

        ck_assert_int_eq(unlink(link), 0);
        ck_assert_int_eq(rmdir(sub), 0);
        ck_assert_int_eq(chdir("/"), 0);
        ck_assert_int_eq(rmdir(ws), 0);
        spawn_options_done(&o);
}
END_TEST

/* Runs the loop until cond(l) holds, for at most a few seconds. */
static void run_until(sd_event *e, bool (*cond)(void *), void *userdata) {
        for (unsigned i = 0; i < 5000 && !cond(userdata); i++)
                ck_assert_int_ge(sd_event_run(e, 1000), 0);
        ck_assert(cond(userdata));
}

static bool log_has_10000(void *userdata) {
        return ((ProcessLog *) userdata)->total == 10000;
}

static bool log_has_no_readers(void *userdata) {
        return ((ProcessLog *) userdata)->n_readers == 0;
}

static void read_all(int fd, char **ret, size_t *ret_size) {
        ck_assert_int_eq(fd_set_nonblock(fd, false), 0);
        ck_assert_int_eq(read_full_fd(fd, 1 << 20, ret, ret_size), 0);
}

START_TEST(test_process_log) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int dir_fd = -EBADF, in_w = -EBADF, r0 = -EBADF, r5000 = -EBADF, rend = -EBADF;
        _cleanup_free_ char *tmp = make_tmpdir(), *s0 = NULL, *s5000 = NULL, *send = NULL;
        _cleanup_free_ char *expected = malloc(10000);
        const char *note =
                "[troupe-supervisord: 4096 bytes of this log were rotated away before they were read]\n";
        ProcessLog *l = NULL;
        size_t n0, n5000, nend;
        struct stat st;
        int fds[2], fd;

        ck_assert_ptr_nonnull(tmp);
        for (size_t i = 0; i < 10000; i++)
                expected[i] = (char) ('a' + i % 26);
        ck_assert_int_eq(sd_event_new(&e), 0);
        dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_ge(dir_fd, 0);
        ck_assert_int_eq(process_log_new(e, dir_fd, tmp, "0123456789abcdef", 4096, &l), 0);
        ck_assert_int_eq(process_log_new(e, dir_fd, tmp, "0123456789abcdef", 4096, &(ProcessLog *) { NULL }),
                         -EEXIST);

        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        in_w = fds[1];
        ck_assert_int_eq(process_log_attach(l, fds[0]), 0);
        ck_assert_int_eq(loop_write(in_w, expected, 10000), 0);
        run_until(e, log_has_10000, l);

        /* 10000 bytes in 4 KiB files: two rotations, the first file is gone. */
        ck_assert_int_eq(fstatat(dir_fd, "0123456789abcdef.log.1", &st, 0), 0);
        ck_assert_int_eq(st.st_size, 4096);
        ck_assert_int_eq(fstatat(dir_fd, "0123456789abcdef.log", &st, 0), 0);
        ck_assert_int_eq(st.st_size, 10000 - 8192);

        ck_assert_int_eq(process_log_open_reader(l, 10001, &fd), -ERANGE);
        ck_assert_int_eq(process_log_open_reader(l, 0, &r0), 0);
        ck_assert_int_eq(process_log_open_reader(l, 5000, &r5000), 0);
        ck_assert_int_eq(process_log_open_reader(l, 10000, &rend), 0);
        ck_assert_uint_eq(l->n_readers, 3);

        /* The readers end once the log does and they have sent everything. */
        in_w = safe_close(in_w);
        process_log_finish(l);
        run_until(e, log_has_no_readers, l);
        read_all(r0, &s0, &n0);
        read_all(r5000, &s5000, &n5000);
        read_all(rend, &send, &nend);
        ck_assert_uint_eq(n0, strlen(note) + 10000 - 4096);
        ck_assert(strncmp(s0, note, strlen(note)) == 0);
        ck_assert(memcmp(s0 + strlen(note), expected + 4096, 10000 - 4096) == 0);
        ck_assert_uint_eq(n5000, 5000);
        ck_assert(memcmp(s5000, expected + 5000, 5000) == 0);
        ck_assert_uint_eq(nend, 0);

        process_log_free(l, true);
        ck_assert_int_eq(faccessat(dir_fd, "0123456789abcdef.log", F_OK, 0), -1);
        ck_assert_int_eq(faccessat(dir_fd, "0123456789abcdef.log.1", F_OK, 0), -1);
        rm_rf_tmpdir(tmp);
}
END_TEST

START_TEST(test_reader_gone) {
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        _cleanup_close_ int dir_fd = -EBADF, in_w = -EBADF, reader = -EBADF;
        _cleanup_free_ char *tmp = make_tmpdir();
        ProcessLog *l = NULL;
        int fds[2];

        ck_assert_ptr_nonnull(tmp);
        ck_assert_int_eq(sd_event_new(&e), 0);
        signal(SIGPIPE, SIG_IGN);
        dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        ck_assert_int_eq(process_log_new(e, dir_fd, tmp, "00000000000000aa", 4096, &l), 0);
        ck_assert_int_eq(pipe2(fds, O_CLOEXEC), 0);
        in_w = fds[1];
        ck_assert_int_eq(process_log_attach(l, fds[0]), 0);
        ck_assert_int_eq(process_log_open_reader(l, 0, &reader), 0);
        ck_assert_uint_eq(l->n_readers, 1);

        /* A client that closes its end while the log is idle is noticed and forgotten. */
        reader = safe_close(reader);
        run_until(e, log_has_no_readers, l);

        process_log_free(l, true);
        rm_rf_tmpdir(tmp);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("supervisor");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, test_suite_table);
        tcase_add_test(tc, test_suite_table_limits);
        tcase_add_test(tc, test_names_and_argv);
        tcase_add_test(tc, test_options_validate);
        tcase_add_test(tc, test_env);
        tcase_add_test(tc, test_confinement_requested);
        tcase_add_test(tc, test_read_only_parse);
        tcase_add_test(tc, test_workspace);
        tcase_add_test(tc, test_spawn);
        tcase_add_test(tc, test_process_log);
        tcase_add_test(tc, test_reader_gone);
        suite_add_tcase(s, tc);
        return s;
}
