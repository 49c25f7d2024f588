/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* list.h: intrusive doubly linked lists with a head and a tail, for O(1) append and removal. */
#pragma once

#include <stddef.h>

/* Put LIST_FIELDS(Type, name) in a struct to let it sit on a list called `name`. */
#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_APPEND(name, head, tail, item)                                                                 \
        do {                                                                                                \
                typeof(item) _item_ = (item);                                                               \
                _item_->name##_next = NULL;                                                                 \
                _item_->name##_prev = (tail);                                                               \
                if (tail)                                                                                   \
                        (tail)->name##_next = _item_;                                                       \
                else                                                                                        \
                        (head) = _item_;                                                                    \
                (tail) = _item_;                                                                            \
        } while (0)

#define LIST_REMOVE(name, head, tail, item)                                                                 \
        do {                                                                                                \
                typeof(item) _item_ = (item);                                                               \
                if (_item_->name##_next)                                                                    \
                        _item_->name##_next->name##_prev = _item_->name##_prev;                             \
                else                                                                                        \
                        (tail) = _item_->name##_prev;                                                       \
                if (_item_->name##_prev)                                                                    \
                        _item_->name##_prev->name##_next = _item_->name##_next;                             \
                else                                                                                        \
                        (head) = _item_->name##_next;                                                       \
                _item_->name##_next = _item_->name##_prev = NULL;                                           \
        } while (0)

#define LIST_FOREACH(name, i, head) for (typeof(head) i = (head); i; i = i->name##_next)
/* Safe against removal of the current item. */
#define LIST_FOREACH_SAFE(name, i, n, head)                                                                 \
        for (typeof(head) i = (head), n = i ? i->name##_next : NULL; i; i = n, n = i ? i->name##_next : NULL)
#define LIST_FOREACH_BACKWARDS(name, i, tail) for (typeof(tail) i = (tail); i; i = i->name##_prev)
