/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* registryd-editor.h: the editor command exec.editor runs (docs/consent.md, "Opening an editor"). */
#pragma once

/* The editor command as argv with argv[0] absolute: $TROUPE_EDITOR, else editor= in troupe.conf (an
 * explicit choice that is not installed is an error, not a reason to pick another), else the first
 * of code, $VISUAL and xdg-open that is installed. On failure *reterr says why, for the user (NULL
 * only with -ENOMEM). */
int editor_resolve(char ***ret, char **reterr);
