/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* check-main.h: every unit test program defines test_suite(); the shared main() runs it as TAP. */
#pragma once

#include <check.h>

Suite *test_suite(void);

/* A fresh temporary directory for one test, removed with everything in it by the caller via
 * rm_rf_tmpdir(). Returns a malloc'd path. */
char *make_tmpdir(void);
void rm_rf_tmpdir(const char *path);
