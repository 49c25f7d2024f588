/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* route.h: ranking agent cards against a free-text prompt by skill match (the v1 router). */
#pragma once

#include <stddef.h>

#include "agent/agentcard.h"
#include "basic/macro.h"

/* Prompts longer than this are cut before they are tokenised; Route() refuses longer ones. */
#define ROUTE_PROMPT_MAX (16U * 1024U)
/* Distinct words of a prompt that count; the rest are ignored. */
#define ROUTE_TOKENS_MAX 64U

typedef struct RouteCandidate {
        const AgentCard *card; /* borrowed from the caller's array */
        const char *skill;     /* id of the best matching skill, NULL if only the card matched */
        double score;          /* 0 < score <= 1 */
} RouteCandidate;

/* Splits `prompt` into its distinct lowercase words, without stop words ("the", "please", ...),
 * in order of first appearance, at most ROUTE_TOKENS_MAX. An empty result is not an error. */
int route_tokenize(const char *prompt, char ***ret);

/* Scores one card against the words of a prompt, 0..1: every word counts by the best field of a
 * skill it matches (the skill id and the card name weigh most, then the skill name and tags, then
 * examples, then descriptions), summed and divided by what a perfect match would give. Words match
 * when equal, or when the shorter has at least 4 characters and is a prefix of the longer that
 * differs by at most 4 ("review" ~ "reviewing"), for a little less. *ret_skill gets the id of the
 * best skill, the first of equals (NULL when the score is 0). */
double route_score_card(const AgentCard *card, char *const *tokens, const char **ret_skill);

/* Ranks `cards` against `prompt`: every card with a score above 0, best first, ties by name.
 * *ret is malloc'd (NULL when nothing matches); returns the count. */
int route_rank(AgentCard *const *cards, size_t n_cards, const char *prompt, RouteCandidate **ret);
