/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* template-internal.h: helpers shared by lib/template's files. */
#pragma once

#include "template/template.h"

/* Replaces *ret_error (if given) by the formatted message; returns `r` (or -ENOMEM). */
int template_fail(char **ret_error, int r, const char *format, ...) _printf_(3, 4);

/* Number of code points of a valid UTF-8 string. */
size_t template_utf8_length(const char *s) _pure_;

/* True for [a-z_][a-z0-9_]*: an option or placeholder name. */
bool template_identifier_is_valid(const char *s, size_t n) _pure_;
