/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* bench-util.h: what the core benchmarks share: a private bus in temporary XDG directories, starting
 * and stopping daemons, /proc readings, percentiles, and figures printed beside their baselines. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#include "basic/macro.h"
#include "basic/time-util.h"

#define KIB_PER_MIB 1024.0

/* ---- output ---------------------------------------------------------------------------------- */

/* Figures go to stdout as they are measured, one a line: `name: value unit (baseline: value unit,
 * ratio: x)`; with `json` they are collected instead and printed as one JSON object at the end.
 * Progress goes to stderr either way. */
typedef struct BenchReport {
        bool json;
        json_t *root;
} BenchReport;

int bench_report_init(BenchReport *r, const char *benchmark, bool json);
void bench_report_done(BenchReport *r);
/* A figure beside its same-run baseline; ratio is value / baseline. */
void bench_report_figure(BenchReport *r, const char *name, double value, double baseline, const char *unit);
/* A figure that has no baseline (a count, a setting). */
void bench_report_value(BenchReport *r, const char *name, double value, const char *unit);
void bench_report_text(BenchReport *r, const char *name, const char *text);
/* "goal <name>: <what> (<measured>, met|missed)"; returns `met`. */
bool bench_report_goal(BenchReport *r, const char *name, const char *what, bool met);
/* The 1, 5 and 15 minute load averages and the number of CPUs, under `name`. */
void bench_report_load(BenchReport *r, const char *name);
/* Prints the JSON object when asked for one. */
int bench_report_finish(BenchReport *r);

/* A name built from a printf format, for figures per agent count or per daemon. */
const char *bench_name(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);

void bench_progress(const char *fmt, ...) _printf_(1, 2);

/* ---- statistics ------------------------------------------------------------------------------ */

/* Sorts `v` and returns its p-th percentile (0..100, nearest rank); 0 for an empty set. */
double bench_percentile_u64(uint64_t *v, size_t n, double p);
/* The p-th percentile of an already sorted array. */
double bench_percentile_sorted_u64(const uint64_t *v, size_t n, double p);

uint64_t bench_now_nsec(void);

/* ---- /proc ----------------------------------------------------------------------------------- */

/* utime + stime of a process in microseconds. */
int proc_cpu_usec(pid_t pid, usec_t *ret);
/* A "Name:   123 kB" field of /proc/PID/status (VmRSS, VmHWM, RssAnon, RssFile...), in KiB. */
int proc_status_kib(pid_t pid, const char *field, uint64_t *ret);
/* Pss of the whole process from /proc/PID/smaps_rollup, in KiB. */
int proc_pss_kib(pid_t pid, uint64_t *ret);

/* Puts a process on the last CPU. Servers compared with each other are pinned to the same CPU: on a
 * loaded machine with few CPUs, the one that happens to sit on the busier CPU is woken later on
 * every request, which skews one side of a ratio for a whole run. No-op with a single CPU. */
int bench_pin_cpu(pid_t pid);

/* Raises RLIMIT_NOFILE's soft limit to the hard one; returns the new soft limit. */
int bench_raise_nofile(uint64_t *ret);

/* ---- processes and the private bus ----------------------------------------------------------- */

/* A temporary root with run/ state/ data/ config/ home/, exported as XDG_* and HOME for this
 * process and everything it starts, and a private dbus-daemon once started. */
typedef struct BenchEnv {
        char *dir;
        pid_t bus_pid;
        char *bus_address;
} BenchEnv;

int bench_env_new(BenchEnv **ret);
/* Stops the bus and removes the directory. Accepts NULL. */
BenchEnv *bench_env_free(BenchEnv *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(BenchEnv *, bench_env_free);
/* <dir>/<name>, malloc'd. */
char *bench_env_path(const BenchEnv *e, const char *name);
/* Starts $DBUS_DAEMON (default: dbus-daemon from $PATH) on <dir>/bus and exports
 * DBUS_SESSION_BUS_ADDRESS and TROUPE_BUS_ADDRESS. */
int bench_env_start_bus(BenchEnv *e);
/* Empties and recreates state/ data/ run/ so that the next daemon starts from nothing. */
int bench_env_reset_state(BenchEnv *e);

/* posix_spawn()s argv (argv[0] a path) with stdout and stderr appended to `log_path` (NULL: the
 * bench's own stderr) and extra environment entries `env` (NULL-terminated, may be NULL). */
int bench_spawn(char *const argv[], char *const env[], const char *log_path, pid_t *ret_pid);
/* posix_spawn()s argv with stdout and stderr both on `output_fd` (as the supervisor runs a child). */
int bench_spawn_output(char *const argv[], int output_fd, pid_t *ret_pid);
/* SIGTERM, then SIGKILL after `timeout`; reaps it. Returns its wait status. */
int bench_stop(pid_t pid, usec_t timeout);
/* True when the process has exited (it is then reaped). */
bool bench_exited(pid_t pid);

/* A client connection to the private bus. */
int bench_bus_open(sd_bus **ret);
/* Waits until `name` has an owner on the bus, while `pid` lives. */
int bench_bus_wait_name(sd_bus *bus, const char *name, pid_t pid, usec_t timeout);

/* Prints the last lines of a daemon's log to stderr, for errors. */
void bench_dump_log(const char *path, unsigned lines);
