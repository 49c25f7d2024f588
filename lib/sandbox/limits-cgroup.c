/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Small cgroup file access and the /proc/self/{cgroup,mountinfo} parsers behind the limits. */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

#include "basic/fd-util.h"
#include "basic/string-util.h"
#include "sandbox/limits-internal.h"

static int cg_path(char buf[static PATH_MAX], const char *dir, const char *file) {
        int n = snprintf(buf, PATH_MAX, "%s/%s", dir, file);
        if (n < 0 || n >= PATH_MAX)
                return -ENAMETOOLONG;
        return 0;
}

int cg_write(const char *dir, const char *file, const char *value) {
        char path[PATH_MAX];
        _cleanup_close_ int fd = -EBADF;
        size_t n;
        ssize_t k;
        int r;

        assert_return(dir && file && value, -EINVAL);

        r = cg_path(path, dir, file);
        if (r < 0)
                return r;
        fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        /* cgroupfs takes each write() as one whole value, so never split it the way loop_write()
         * may; a short write is an error here. */
        n = strlen(value);
        k = write(fd, value, n);
        if (k < 0)
                return -errno;
        return (size_t) k == n ? 0 : -EIO;
}

int cg_read(const char *dir, const char *file, size_t max_size, char **ret) {
        char path[PATH_MAX];
        int r;

        assert_return(dir && file && ret, -EINVAL);

        r = cg_path(path, dir, file);
        if (r < 0)
                return r;
        return read_full_file_at(AT_FDCWD, path, max_size, ret, NULL);
}

int cg_read_u64(const char *dir, const char *file, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        char *end;
        unsigned long long v;
        int r;

        assert_return(ret, -EINVAL);

        r = cg_read(dir, file, 64, &s);
        if (r < 0)
                return r;
        s[strcspn(s, "\n")] = 0;
        if (streq(s, "max")) {
                *ret = UINT64_MAX;
                return 0;
        }
        if (s[0] < '0' || s[0] > '9')
                return -EINVAL;
        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno != 0 || *end != 0)
                return -EINVAL;
        *ret = v;
        return 0;
}

bool cg_has_file(const char *dir, const char *file) {
        char path[PATH_MAX];

        if (cg_path(path, dir, file) < 0)
                return false;
        return access(path, F_OK) == 0;
}

bool limits_list_contains(const char *list, const char *word, const char *seps) {
        size_t n = strlen(word);

        if (!list || n == 0)
                return false;
        for (const char *p = list; *p;) {
                size_t k = strcspn(p, seps);
                if (k == n && strncmp(p, word, n) == 0)
                        return true;
                p += k;
                p += strspn(p, seps);
        }
        return false;
}

/* A path from /proc/self/cgroup is "../.." relative when our group lies outside our cgroup
 * namespace: then no mount we can see shows it. */
static bool cgroup_path_is_sane(const char *p) {
        if (p[0] != '/')
                return false;
        for (const char *s = p; (s = strstr(s, "/..")); s += 3)
                if (s[3] == '/' || s[3] == 0)
                        return false;
        return true;
}

int limits_parse_proc_cgroup(const char *text, const char *controller, char **ret_path) {
        assert_return(text && ret_path, -EINVAL);

        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                const char *c1 = memchr(line, ':', len), *c2;
                _cleanup_free_ char *controllers = NULL, *path = NULL;

                if (c1 && (c2 = memchr(c1 + 1, ':', len - (size_t) (c1 + 1 - line)))) {
                        controllers = strndup(c1 + 1, (size_t) (c2 - c1 - 1));
                        path = strndup(c2 + 1, (size_t) (line + len - c2 - 1));
                        if (!controllers || !path)
                                return -ENOMEM;
                        bool match = controller ? limits_list_contains(controllers, controller, ",")
                                                : (c1 - line == 1 && line[0] == '0' && controllers[0] == 0);
                        if (match) {
                                if (!cgroup_path_is_sane(path))
                                        return -ENOENT;
                                *ret_path = TAKE_PTR(path);
                                return 0;
                        }
                }
                line += len;
                if (*line == '\n')
                        line++;
        }
        return -ENOENT;
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *mountinfo_unescape(const char *s, size_t n) {
        char *r = malloc(n + 1), *d = r;

        if (!r)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3' && s[i + 2] >= '0' &&
                    s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
                        *d++ = (char) (((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
                        i += 3;
                } else
                        *d++ = s[i];
        }
        *d = 0;
        return r;
}

typedef struct MountinfoLine {
        const char *root, *mountpoint, *fstype, *superopts; /* not terminated: with lengths */
        size_t root_len, mountpoint_len, fstype_len, superopts_len;
} MountinfoLine;

/* "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw,errors=continue" */
static bool mountinfo_split(const char *line, size_t len, MountinfoLine *ret) {
        const char *f[12];
        size_t flen[12], n = 0;
        bool dash = false;

        for (const char *p = line, *end = line + len; p < end && n < ELEMENTSOF(f);) {
                size_t k = strcspn(p, " ");
                if (k > (size_t) (end - p))
                        k = (size_t) (end - p);
                if (k > 0) {
                        /* Optional fields sit between the sixth field and the "-" separator. */
                        if (!dash && n >= 6 && k == 1 && p[0] == '-')
                                dash = true;
                        else if (dash || n < 6) {
                                f[n] = p;
                                flen[n++] = k;
                        }
                }
                p += k + 1;
        }
        if (!dash || n < 9)
                return false;
        *ret = (MountinfoLine){
                .root = f[3],
                .root_len = flen[3],
                .mountpoint = f[4],
                .mountpoint_len = flen[4],
                .fstype = f[6],
                .fstype_len = flen[6],
                .superopts = f[8],
                .superopts_len = flen[8],
        };
        return true;
}

static bool field_eq(const char *f, size_t n, const char *s) {
        return strlen(s) == n && strncmp(f, s, n) == 0;
}

static int mountinfo_rank(const MountinfoLine *m, const char *controller) {
        if (!controller) {
                if (!field_eq(m->fstype, m->fstype_len, "cgroup2"))
                        return 0;
                if (field_eq(m->mountpoint, m->mountpoint_len, "/sys/fs/cgroup"))
                        return 3;
                if (field_eq(m->mountpoint, m->mountpoint_len, "/sys/fs/cgroup/unified"))
                        return 2;
                return 1;
        }
        if (!field_eq(m->fstype, m->fstype_len, "cgroup"))
                return 0;
        _cleanup_free_ char *opts = strndup(m->superopts, m->superopts_len);
        if (!opts)
                return -ENOMEM;
        return limits_list_contains(opts, controller, ",") ? 1 : 0;
}

int limits_parse_mountinfo(const char *text, const char *controller, char **ret_mountpoint,
                           char **ret_root) {
        MountinfoLine best = {};
        int best_rank = 0;

        assert_return(text && ret_mountpoint && ret_root, -EINVAL);

        for (const char *line = text; *line;) {
                size_t len = strcspn(line, "\n");
                MountinfoLine m;

                if (mountinfo_split(line, len, &m)) {
                        int rank = mountinfo_rank(&m, controller);
                        if (rank < 0)
                                return rank;
                        if (rank > best_rank) {
                                best = m;
                                best_rank = rank;
                        }
                }
                line += len;
                if (*line == '\n')
                        line++;
        }
        if (best_rank == 0)
                return -ENOENT;

        _cleanup_free_ char *mp = mountinfo_unescape(best.mountpoint, best.mountpoint_len);
        _cleanup_free_ char *root = mountinfo_unescape(best.root, best.root_len);
        if (!mp || !root)
                return -ENOMEM;
        *ret_mountpoint = TAKE_PTR(mp);
        *ret_root = TAKE_PTR(root);
        return 0;
}

int limits_cgroup_dir(const char *mountpoint, const char *root, const char *path, char **ret) {
        const char *rest = path;
        char *d;

        assert_return(mountpoint && root && path && ret, -EINVAL);

        if (!streq(root, "/")) {
                rest = startswith(path, root);
                if (!rest || (*rest != '/' && *rest != 0))
                        return -ENOENT;
        }
        if (streq(rest, "/"))
                rest = "";
        d = strjoin(mountpoint, rest);
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

int limits_weight_to_nice(uint64_t weight) {
        /* The kernel's sched_prio_to_weight[] for nice -20..19; cgroup weight 100 is 1024. */
        /* clang-format off */
        static const uint32_t prio_to_weight[40] = {
                /* -20 */ 88761, 71755, 56483, 46273, 36291,
                /* -15 */ 29154, 23254, 18705, 14949, 11916,
                /* -10 */  9548,  7620,  6100,  4904,  3906,
                /*  -5 */  3121,  2501,  1991,  1586,  1277,
                /*   0 */  1024,   820,   655,   526,   423,
                /*   5 */   335,   272,   215,   172,   137,
                /*  10 */   110,    87,    70,    56,    45,
                /*  15 */    36,    29,    23,    18,    15,
        };
        /* clang-format on */
        uint64_t w = MIN(weight, (uint64_t) 10000) * 1024 / 100;
        unsigned best = 0;

        for (unsigned i = 1; i < ELEMENTSOF(prio_to_weight); i++) {
                uint64_t d = w > prio_to_weight[i] ? w - prio_to_weight[i] : prio_to_weight[i] - w;
                uint64_t bd = w > prio_to_weight[best] ? w - prio_to_weight[best] : prio_to_weight[best] - w;
                if (d < bd)
                        best = i;
        }
        return (int) best - 20;
}

bool limits_name_is_valid(const char *name) {
        size_t n;

        if (!name)
                return false;
        n = strlen(name);
        if (n == 0 || n > LIMITS_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = name[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}
