/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "basic/string-util.h"
#include "route.h"

/* Words longer than this are compared by their first WORD_MAX bytes. */
#define WORD_MAX 64U

/* How much a word found in each part of a card counts. */
#define WEIGHT_ID 1.0
#define WEIGHT_NAME 0.8
#define WEIGHT_EXAMPLE 0.6
#define WEIGHT_DESCRIPTION 0.4
/* A prefix match ("review" ~ "reviewing") counts this much of an exact one. */
#define PREFIX_FACTOR 0.75

/* Words that say nothing about which agent is wanted. Sorted, for bsearch(). */
static const char *const stop_words[] = {
        "a",     "about", "all",   "am",     "an",    "and",   "any",  "are",  "as",    "at",
        "be",    "by",    "can",   "could",  "do",    "for",   "from", "get",  "give",  "have",
        "how",   "i",     "if",    "in",     "into",  "is",    "it",   "its",  "just",  "let",
        "me",    "my",    "of",    "on",     "or",    "our",   "please", "should", "so", "some",
        "that",  "the",   "them",  "then",   "there", "these", "this", "those", "to",   "up",
        "us",    "want",  "was",   "we",     "what",  "when",  "where", "which", "who",  "will",
        "with",  "would", "you",   "your",
};

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool is_stop_word(const char *w) {
        return bsearch(&w, stop_words, ELEMENTSOF(stop_words), sizeof(stop_words[0]), cmp_str);
}

static bool is_word_char(unsigned char c) {
        /* Bytes of multi-byte UTF-8 sequences count as letters, so non-English words stay whole. */
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* Copies the next word at *p into buf (lowercased, cut at WORD_MAX bytes) and advances *p past
 * it. Returns the word's length, 0 at the end of the text. */
static size_t next_word(const char **p, char buf[static WORD_MAX + 1]) {
        const unsigned char *s = (const unsigned char *) *p;
        size_t n = 0;

        while (*s && !is_word_char(*s))
                s++;
        for (; *s && is_word_char(*s); s++)
                if (n < WORD_MAX)
                        buf[n++] = (*s >= 'A' && *s <= 'Z') ? (char) (*s - 'A' + 'a') : (char) *s;
        buf[n] = '\0';
        *p = (const char *) s;
        return n;
}

int route_tokenize(const char *prompt, char ***ret) {
        _cleanup_strv_free_ char **tokens = NULL;
        char word[WORD_MAX + 1];
        const char *p = prompt;
        size_t n = 0;
        int r;

        assert_return(ret, -EINVAL);

        tokens = calloc(1, sizeof(char *));
        if (!tokens)
                return -ENOMEM;

        while (p && n < ROUTE_TOKENS_MAX && next_word(&p, word) > 0) {
                if (is_stop_word(word) || strv_contains(tokens, word))
                        continue;
                r = strv_extend(&tokens, word);
                if (r < 0)
                        return r;
                n++;
        }

        *ret = TAKE_PTR(tokens);
        return 0;
}

static double word_match(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        const char *shorter = la <= lb ? a : b, *longer = la <= lb ? b : a;
        size_t ls = MIN(la, lb), ll = MAX(la, lb);

        if (streq(a, b))
                return 1.0;
        if (ls >= 4 && ll - ls <= 4 && strncmp(shorter, longer, ls) == 0)
                return PREFIX_FACTOR;
        return 0.0;
}

/* The best match of `token` among the words of `text`, 0..1. */
static double text_match(const char *text, const char *token) {
        char word[WORD_MAX + 1];
        const char *p = text;
        double best = 0.0;

        while (p && best < 1.0 && next_word(&p, word) > 0)
                best = MAX(best, word_match(word, token));
        return best;
}

static double strv_match(char *const *l, const char *token) {
        double best = 0.0;

        STRV_FOREACH(s, l)
                best = MAX(best, text_match(*s, token));
        return best;
}

static double card_word_weight(const AgentCard *card, const char *token) {
        return MAX(WEIGHT_ID * text_match(card->name, token),
                   WEIGHT_DESCRIPTION * text_match(card->description, token));
}

static double skill_word_weight(const AgentSkill *skill, const char *token) {
        double w = WEIGHT_ID * text_match(skill->id, token);

        w = MAX(w, WEIGHT_NAME * text_match(skill->name, token));
        w = MAX(w, WEIGHT_NAME * strv_match(skill->tags, token));
        w = MAX(w, WEIGHT_EXAMPLE * strv_match(skill->examples, token));
        w = MAX(w, WEIGHT_DESCRIPTION * text_match(skill->description, token));
        return w;
}

/* Sums the weight of every token in `card` (and `skill` when given), normalised to 0..1. */
static double score_tokens(const AgentCard *card, const AgentSkill *skill, char *const *tokens) {
        size_t n = strv_length(tokens);
        double sum = 0.0;

        if (n == 0)
                return 0.0;
        STRV_FOREACH(t, tokens) {
                double w = card_word_weight(card, *t);

                if (skill)
                        w = MAX(w, skill_word_weight(skill, *t));
                sum += w;
        }
        return MIN(1.0, sum / ((double) n * WEIGHT_ID));
}

double route_score_card(const AgentCard *card, char *const *tokens, const char **ret_skill) {
        const char *best_skill = NULL;
        double best;

        if (!card)
                return 0.0;

        /* A skill's score includes the card's own words, so it is never below the card alone. */
        best = score_tokens(card, NULL, tokens);
        for (size_t i = 0; i < card->n_skills; i++) {
                double s = score_tokens(card, &card->skills[i], tokens);

                if (s > 0.0 && (!best_skill || s > best)) {
                        best = s;
                        best_skill = card->skills[i].id;
                }
        }

        if (ret_skill)
                *ret_skill = best_skill;
        return best;
}

static int candidate_compare(const void *a, const void *b) {
        const RouteCandidate *x = a, *y = b;

        if (x->score != y->score)
                return x->score > y->score ? -1 : 1;
        return strcmp(x->card->name, y->card->name);
}

int route_rank(AgentCard *const *cards, size_t n_cards, const char *prompt, RouteCandidate **ret) {
        _cleanup_strv_free_ char **tokens = NULL;
        _cleanup_free_ RouteCandidate *list = NULL;
        size_t n = 0;
        int r;

        assert_return(cards || n_cards == 0, -EINVAL);
        assert_return(ret, -EINVAL);

        r = route_tokenize(prompt, &tokens);
        if (r < 0)
                return r;

        if (n_cards > 0) {
                list = calloc(n_cards, sizeof(RouteCandidate));
                if (!list)
                        return -ENOMEM;
        }
        for (size_t i = 0; i < n_cards; i++) {
                const char *skill = NULL;
                double score = route_score_card(cards[i], tokens, &skill);

                if (score <= 0.0)
                        continue;
                list[n++] = (RouteCandidate) { .card = cards[i], .skill = skill, .score = score };
        }
        if (n == 0)
                list = mfree(list);
        else
                qsort(list, n, sizeof(RouteCandidate), candidate_compare);

        *ret = TAKE_PTR(list);
        return (int) n;
}
