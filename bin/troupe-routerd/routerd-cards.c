/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "agent/sdk-cards.h"
#include "basic/log.h"
#include "basic/string-util.h"
#include "json/json-util.h"
#include "routerd-cards.h"

CardSet *card_set_free(CardSet *s) {
        if (!s)
                return NULL;
        for (size_t i = 0; i < s->n_cards; i++) {
                agent_card_free(s->entries[i].card);
                free(s->entries[i].path);
        }
        free(s->entries);
        free(s->cards);
        strv_free(s->dirs);
        return mfree(s);
}

static int cmp_entry(const void *a, const void *b) {
        return strcmp(((const CardEntry *) a)->card->name, ((const CardEntry *) b)->card->name);
}

/* Takes `card` on success. */
static int card_set_add(CardSet *s, AgentCard *card, const char *path) {
        CardEntry *entries;
        char *p;

        p = strdup(path);
        if (!p)
                return -ENOMEM;
        entries = reallocarray(s->entries, s->n_cards + 1, sizeof(CardEntry));
        if (!entries) {
                free(p);
                return -ENOMEM;
        }
        s->entries = entries;
        s->entries[s->n_cards++] = (CardEntry) { .card = card, .path = p };
        return 0;
}

static int card_set_finish(CardSet *s) {
        if (s->n_cards > 0)
                qsort(s->entries, s->n_cards, sizeof(CardEntry), cmp_entry);
        s->cards = calloc(s->n_cards + 1, sizeof(AgentCard *));
        if (!s->cards)
                return -ENOMEM;
        for (size_t i = 0; i < s->n_cards; i++)
                s->cards[i] = s->entries[i].card;
        return 0;
}

/* The agent names a directory has cards for: "x.json" files and "x/" directories. */
static int dir_list_names(const char *dir, char ***ret) {
        _cleanup_strv_free_ char **names = NULL;
        DIR *d;
        int r = 0;

        names = calloc(1, sizeof(char *));
        if (!names)
                return -ENOMEM;
        d = opendir(dir);
        if (!d) {
                if (errno != ENOENT && errno != ENOTDIR)
                        log_warning_errno(errno, "Failed to open card directory %s, ignoring: %m", dir);
                *ret = TAKE_PTR(names);
                return 0;
        }
        for (struct dirent *de; (de = readdir(d)) && r >= 0;) {
                _cleanup_free_ char *name = NULL;
                const char *suffix = endswith(de->d_name, ".json");

                name = suffix ? strndup(de->d_name, suffix - de->d_name) : strdup(de->d_name);
                if (!name) {
                        r = -ENOMEM;
                        break;
                }
                if (!name_is_valid(name, AGENT_NAME_MAX) || strv_contains(names, name))
                        continue;
                if (strv_length(names) >= CARD_SET_CARDS_MAX) {
                        log_warning("More than %u cards in %s, ignoring the rest.", CARD_SET_CARDS_MAX, dir);
                        break;
                }
                r = strv_extend(&names, name);
        }
        closedir(d);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(names);
        return 0;
}

static int card_set_load_one(CardSet *s, const char *dir, const char *name) {
        _cleanup_(agent_card_freep) AgentCard *card = NULL;
        _cleanup_free_ char *path = NULL, *error = NULL;
        int r;

        r = agent_card_find_in(dir, name, &path);
        if (r == -ENOENT)
                return 0; /* "x" was a directory without x/x.json, or not a card at all */
        if (r < 0)
                return r;

        r = agent_card_load(AT_FDCWD, path, &card, &error);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                log_warning_errno(r, "Ignoring agent card %s: %s", path, error ?: strerror(-r));
                return 0;
        }
        /* The file name is how an agent's card is found; a card under another name would be
         * routed to but never found by the agent itself. */
        if (!streq(card->name, name)) {
                log_warning("Ignoring agent card %s: it is for agent '%s', not '%s'.", path, card->name, name);
                return 0;
        }
        r = card_set_add(s, card, path);
        if (r < 0)
                return r;
        TAKE_PTR(card);
        return 0;
}

int card_set_load_dirs(char *const *dirs, CardSet **ret) {
        _cleanup_(card_set_freep) CardSet *s = NULL;
        int r;

        assert_return(ret, -EINVAL);

        s = calloc(1, sizeof(CardSet));
        if (!s)
                return -ENOMEM;
        s->dirs = strv_copy(dirs);
        if (!s->dirs)
                return -ENOMEM;

        STRV_FOREACH(d, s->dirs) {
                _cleanup_strv_free_ char **names = NULL;

                r = dir_list_names(*d, &names);
                if (r < 0)
                        return r;
                STRV_FOREACH(n, names) {
                        /* The first directory that has a card of a name wins. */
                        if (card_set_find(s, *n))
                                continue;
                        r = card_set_load_one(s, *d, *n);
                        if (r < 0)
                                return r;
                }
        }
        r = card_set_finish(s);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(s);
        return 0;
}

int card_set_load(CardSet **ret) {
        _cleanup_strv_free_ char **dirs = NULL;
        int r;

        r = agent_card_dirs(&dirs);
        if (r < 0)
                return r;
        return card_set_load_dirs(dirs, ret);
}

const CardEntry *card_set_find(const CardSet *s, const char *name) {
        if (!s || !name)
                return NULL;
        for (size_t i = 0; i < s->n_cards; i++)
                if (streq(s->entries[i].card->name, name))
                        return &s->entries[i];
        return NULL;
}

const CardEntry *card_set_find_skill(const CardSet *s, const char *id) {
        if (!s || !id)
                return NULL;
        for (size_t i = 0; i < s->n_cards; i++)
                if (agent_card_find_skill(s->entries[i].card, id))
                        return &s->entries[i];
        return NULL;
}

static int card_to_json(const AgentCard *card, const char *path, json_t **ret) {
        _cleanup_json_ json_t *o = NULL, *skills = json_array();

        if (!skills)
                return -ENOMEM;
        for (size_t i = 0; i < card->n_skills; i++)
                if (json_array_append_new(skills, json_string(card->skills[i].id)) < 0)
                        return -ENOMEM;
        o = json_pack("{s:s, s:s, s:s, s:s, s:O}", "name", card->name, "version", card->version, "path", path,
                      "exec", card->exec.path, "skills", skills);
        if (!o)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}

int card_set_to_json(const CardSet *s, json_t **ret) {
        _cleanup_json_ json_t *o = NULL, *dirs = json_array(), *cards = json_array();
        int r;

        assert_return(s && ret, -EINVAL);

        if (!dirs || !cards)
                return -ENOMEM;
        STRV_FOREACH(d, s->dirs)
                if (json_array_append_new(dirs, json_string(*d)) < 0)
                        return -ENOMEM;
        for (size_t i = 0; i < s->n_cards; i++) {
                json_t *c = NULL;

                r = card_to_json(s->entries[i].card, s->entries[i].path, &c);
                if (r < 0)
                        return r;
                if (json_array_append_new(cards, c) < 0)
                        return -ENOMEM;
        }
        o = json_pack("{s:O, s:O}", "card_dirs", dirs, "cards", cards);
        if (!o)
                return -ENOMEM;
        *ret = TAKE_PTR(o);
        return 0;
}
