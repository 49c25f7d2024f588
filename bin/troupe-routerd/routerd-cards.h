/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* routerd-cards.h: the agent cards the router knows, read from the card directories. */
#pragma once

#include <jansson.h>

#include "agent/agentcard.h"
#include "basic/macro.h"

/* A card directory with more than this many cards is read up to it (with a warning). */
#define CARD_SET_CARDS_MAX 1024U

typedef struct CardEntry {
        AgentCard *card;
        char *path; /* the file it came from */
} CardEntry;

typedef struct CardSet {
        char **dirs;        /* searched, in order */
        CardEntry *entries; /* sorted by name, one per name: the first found wins */
        AgentCard **cards;  /* the same cards in the same order, as route_rank() takes them */
        size_t n_cards;
} CardSet;

CardSet *card_set_free(CardSet *s);
DEFINE_TRIVIAL_CLEANUP_FUNC(CardSet *, card_set_free);

/* Reads every card in `dirs` (both <dir>/<name>.json and <dir>/<name>/<name>.json). Unreadable
 * and invalid cards, and cards whose name differs from their file's, are skipped with a warning;
 * a missing directory is skipped silently. */
int card_set_load_dirs(char *const *dirs, CardSet **ret);
/* The same for the standard card directories (lib/agent/sdk-cards.h). */
int card_set_load(CardSet **ret);

/* The entry of agent `name`, or NULL. */
const CardEntry *card_set_find(const CardSet *s, const char *name);
/* The first entry (by name) whose card offers skill `id`, or NULL. */
const CardEntry *card_set_find_skill(const CardSet *s, const char *id);

/* {"dirs": [...], "cards": [{"name", "version", "path", "skills": [...]}]} */
int card_set_to_json(const CardSet *s, json_t **ret);
