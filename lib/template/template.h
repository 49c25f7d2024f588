/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* template.h: project templates (docs/templates.md): find, list and load manifests, check option values, expand placeholders. */
#pragma once

#include <jansson.h>
#include <regex.h>

#include "basic/macro.h"

/* The manifest's file name inside a stack folder, and the only format this code knows. */
#define TEMPLATE_MANIFEST "troupe-template.json"
#define TEMPLATE_FORMAT 1
/* Limits on what is read from outside: the manifest's size, a value's size (the proto's 1 KiB),
 * the number of options and of stacks listed. */
#define TEMPLATE_MANIFEST_SIZE_MAX (256U * 1024U)
#define TEMPLATE_VALUE_MAX 1024U
#define TEMPLATE_OPTIONS_MAX 64U
#define TEMPLATE_STACKS_MAX 256U
#define TEMPLATE_NAME_MAX 64U
/* The interpreter substituted for {python}, unless $TROUPE_PYTHON is set (absolute). */
#define TEMPLATE_PYTHON_DEFAULT "/usr/bin/python3"

typedef enum TemplateOptionType {
        TEMPLATE_OPTION_SLUG,
        TEMPLATE_OPTION_STRING,
        TEMPLATE_OPTION_CHOICE,
        TEMPLATE_OPTION_BOOL,
        _TEMPLATE_OPTION_TYPE_MAX,
        _TEMPLATE_OPTION_TYPE_INVALID = -EINVAL,
} TemplateOptionType;

const char *template_option_type_to_string(TemplateOptionType t) _const_;
TemplateOptionType template_option_type_from_string(const char *s) _pure_;

typedef struct TemplateOption {
        char *name;
        TemplateOptionType type;
        char *default_value; /* always valid */
        char *help;          /* what the option is and what is allowed: refusals quote it */
        bool required;       /* the user must give it (project_name) */
        char **choices;      /* choice: the allowed strings (first = default); bool: "yes", "no" */
        size_t max_length;   /* slug, string: in code points; 0 for choice and bool */
        char *pattern;       /* slug, string: POSIX ERE the whole value matches; NULL: none */
        char **reserved;     /* slug: values refused although they match; may be NULL */
        regex_t regex;       /* compiled pattern, when has_regex */
        bool has_regex;
} TemplateOption;

typedef struct TemplateConstraint {
        char **distinct; /* option names whose values must all differ */
        char *message;
} TemplateConstraint;

typedef struct TemplateFile {
        char *path;  /* relative to the project folder, with placeholders */
        char **when; /* NULL or "option=value" entries that must all hold for the file to exist */
} TemplateFile;

typedef struct TemplateChecks {
        char **env;                 /* "NAME=value" added to the minimal environment */
        char **test;                /* argv with placeholders */
        unsigned test_timeout_sec;
        char **serve;               /* argv with placeholders, {port} among them */
        unsigned serve_timeout_sec;
        char **cleanup;             /* relative paths with placeholders; may be empty */
        char *health_path;          /* starts with '/' */
        unsigned health_status;
        json_t *health_json;        /* the body the probe must get, parsed; owned */
} TemplateChecks;

typedef struct Template {
        char *dir;          /* the stack folder, absolute or as given */
        char *name;         /* == the folder's name */
        char *description;
        char *project_dir;  /* with placeholders: "{project_name}" */
        char **requires_debian;
        char **requires_modules;
        TemplateOption *options; /* in the manifest's order */
        size_t n_options;
        TemplateConstraint *constraints;
        size_t n_constraints;
        TemplateFile *files;
        size_t n_files;
        TemplateChecks checks;
        char *run;          /* with placeholders */
} Template;

Template *template_free(Template *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(Template *, template_free);
#define _cleanup_template_free_ _cleanup_(template_freep)

/* A NULL-terminated array of templates, as template_list() returns. */
Template **template_list_free(Template **l);
DEFINE_TRIVIAL_CLEANUP_FUNC(Template **, template_list_free);
#define _cleanup_template_list_free_ _cleanup_(template_list_freep)

/* The templates folder: $TROUPE_TEMPLATES_DIR (must be absolute: -EINVAL otherwise), else
 * TROUPE_DATADIR "/templates" ($(pkgdatadir)/templates). Creates and checks nothing. */
int template_get_dir(char **ret);

/* $TROUPE_PYTHON when set and absolute, else TEMPLATE_PYTHON_DEFAULT. Borrowed. */
const char *template_get_python(void);

/* Stack names: the sub-folders of `dir` (NULL: template_get_dir()) that hold a manifest, sorted
 * (strcmp), names that are not [a-z][a-z0-9_-]* skipped. -ENOENT when dir does not exist. */
int template_list_names(const char *dir, char ***ret);

/* Loads every stack of `dir` (NULL: template_get_dir()), sorted by name. A stack whose manifest
 * is malformed makes the whole call fail (-EINVAL) with *ret_error naming the stack and the
 * problem: a broken install should be noticed, not hidden. */
int template_list(const char *dir, Template ***ret, char **ret_error);

/* Loads and validates <dir>/<stack>/troupe-template.json (dir NULL: template_get_dir()).
 * -ENOENT for an unknown stack, with *ret_error "unknown stack 'x': the stacks are django,
 * fastapi" (or saying where none were found); -EINVAL for a bad stack name or a malformed manifest
 * ("fastapi: options.license: ..."), -EFBIG for an oversized one. */
int template_load(const char *dir, const char *stack, Template **ret, char **ret_error);
/* The same for one stack folder given by path (its last component is the stack's name). */
int template_load_path(const char *stack_dir, Template **ret, char **ret_error);

const TemplateOption *template_find_option(const Template *t, const char *name) _pure_;

/* Checks one value against one option's rules (docs/templates.md). On -EINVAL *ret_error names the
 * option, quotes the value (bounded) and says what is allowed (the option's help, or the choices). */
int template_option_check(const TemplateOption *o, const char *value, char **ret_error);

/* Checks a set of values and fills in the defaults. `assignments` are "KEY=VALUE" strings (NULL:
 * none; a key given twice is refused); `project_name`, when not NULL, is the project_name option
 * (giving it both ways with different values is refused). On success *ret gets a "KEY=VALUE" strv
 * holding every option of the manifest in the manifest's order. On -EINVAL *ret_error holds every
 * problem found, joined by "; ": an unknown option (listing the known ones), a missing required
 * one, each bad value (see template_option_check()), a broken constraint (its message). */
int template_values_build(const Template *t, char *const *assignments, const char *project_name, char ***ret,
                          char **ret_error);

/* The value of `key` in a "KEY=VALUE" strv, or NULL. Borrowed. */
const char *template_values_get(char *const *values, const char *key) _pure_;

/* Replaces each {name} in `text` by its value in `values` ("KEY=VALUE" strv), {python} by `python`
 * (NULL: template_get_python()) and {port} by `port` when it is not NULL. Any other {identifier}
 * is -EINVAL with *ret_error naming it; braces around anything else ("{}", "{ x }") stay as they
 * are, as in tests/e2e/template-check.py. */
int template_expand(const char *text, char *const *values, const char *python, const char *port, char **ret,
                    char **ret_error);
/* template_expand() over each element of a strv. */
int template_expand_strv(char *const *l, char *const *values, const char *python, const char *port,
                         char ***ret, char **ret_error);

/* The files the project must hold (their `when` holds) and those it must not, expanded. Either
 * output may be NULL. */
int template_files(const Template *t, char *const *values, char ***ret_present, char ***ret_absent);

/* {"name","description","options":[{"name","type","default","required","help","choices"?,
 * "max_length"?,"pattern"?}],"requires":{"debian":[...],"python_modules":[...]}} for listings
 * (`troupectl bootstrap --list --json`) and the agent's messages. */
int template_to_json(const Template *t, json_t **ret);
