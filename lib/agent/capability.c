/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "agent/capability.h"

#include <arpa/inet.h>

#include "basic/string-util.h"

static int capability_fail(const char **reterr_reason, const char *reason) {
        if (reterr_reason)
                *reterr_reason = reason;
        return -EINVAL;
}

/* RFC 1123 host names, lowercase only so that one host has one spelling. */
static bool dns_name_is_valid(const char *s, size_t n) {
        size_t label = 0;

        if (n == 0 || n > 253)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];

                if (c == '.') {
                        if (label == 0 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
                        return false;
                if (c == '-' && label == 0)
                        return false;
                if (++label > 63)
                        return false;
        }
        return label > 0 && s[n - 1] != '-';
}

/* Valid, and in the one form inet_ntop() writes. */
static bool ip_is_canonical(int family, const char *s, size_t n) {
        char buf[INET6_ADDRSTRLEN], out[INET6_ADDRSTRLEN];
        struct in6_addr a; /* large enough for either family */

        if (n == 0 || n >= sizeof(buf))
                return false;
        memcpy(buf, s, n);
        buf[n] = 0;
        if (inet_pton(family, buf, &a) != 1 || !inet_ntop(family, &a, out, sizeof(out)))
                return false;
        return streq(buf, out);
}

static bool port_is_valid(const char *s) {
        unsigned port = 0;

        if (s[0] < '1' || s[0] > '9')
                return false;
        for (const char *p = s; *p; p++) {
                if (*p < '0' || *p > '9')
                        return false;
                port = port * 10 + (unsigned) (*p - '0');
                if (port > 65535)
                        return false;
        }
        return true;
}

static int net_connect_check(const char *arg, const char **reterr_reason) {
        const char *host = arg, *port;
        size_t n;

        /* "Any address" is something to listen on, not something to connect to. */
        if (startswith(arg, "0.0.0.0:") || startswith(arg, "[::]:"))
                return capability_fail(reterr_reason, "HOST must not be an unspecified address");
        if (arg[0] == '[') {
                const char *end = strchr(arg, ']');

                if (!end || end[1] != ':')
                        return capability_fail(reterr_reason, "expected net.connect:HOST:PORT");
                host = arg + 1;
                n = (size_t) (end - host);
                port = end + 2;
                if (!ip_is_canonical(AF_INET6, host, n))
                        return capability_fail(reterr_reason,
                                               "HOST in brackets must be an IPv6 address in canonical form");
        } else {
                const char *colon = strrchr(arg, ':');

                if (!colon)
                        return capability_fail(reterr_reason, "expected net.connect:HOST:PORT");
                n = (size_t) (colon - host);
                port = colon + 1;
                if (memchr(host, ':', n))
                        return capability_fail(reterr_reason, "an IPv6 HOST must be written in brackets");
                if (n > 0 && strspn(host, "0123456789.") >= n) {
                        if (!ip_is_canonical(AF_INET, host, n))
                                return capability_fail(
                                        reterr_reason,
                                        "HOST must be an IPv4 address in dotted-decimal form");
                } else if (!dns_name_is_valid(host, n))
                        return capability_fail(
                                reterr_reason,
                                "HOST must be a lowercase DNS name, an IPv4 address or an IPv6 "
                                "address in brackets");
        }
        if (!port_is_valid(port))
                return capability_fail(reterr_reason, "PORT must be a number between 1 and 65535");
        return 0;
}

int capability_check(const char *s, const char **reterr_reason) {
        const char *arg;

        assert_return(s, -EINVAL);

        if (strnlen(s, CAPABILITY_LENGTH_MAX + 1) > CAPABILITY_LENGTH_MAX)
                return capability_fail(reterr_reason, "longer than 300 bytes");
        if (streq(s, "fs.workspace") || streq(s, "exec.editor") || streq(s, "exec.command") ||
            streq(s, "net.loopback"))
                return 0;
        if ((arg = startswith(s, "net.loopback")) && *arg == ':')
                /* Only the bare word: loopback is the sandbox's own network, not a set of ports. */
                return capability_fail(reterr_reason, "net.loopback takes no argument");
        if ((arg = startswith(s, "net.connect"))) {
                if (*arg != ':')
                        return capability_fail(reterr_reason, "expected net.connect:HOST:PORT");
                return net_connect_check(arg + 1, reterr_reason);
        }
        if ((arg = startswith(s, "secrets.read"))) {
                if (*arg != ':')
                        return capability_fail(reterr_reason, "expected secrets.read:NAME");
                if (!name_is_valid(arg + 1, 64))
                        return capability_fail(
                                reterr_reason,
                                "NAME must be 1-64 lowercase letters, digits, '.', '_' or '-', "
                                "starting with a letter or digit");
                return 0;
        }
        return capability_fail(reterr_reason,
                               "unknown capability; expected fs.workspace, exec.editor, exec.command, "
                               "net.loopback, net.connect:HOST:PORT or secrets.read:NAME");
}
