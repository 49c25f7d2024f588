# Shared by the dev/ scripts: where the tree is, and how to run a command as root.
# shellcheck shell=bash

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
JOBS=$(nproc 2>/dev/null || echo 2)

as_root() {
        if [ "$(id -u)" -eq 0 ]; then
                "$@"
        elif command -v sudo >/dev/null 2>&1; then
                sudo "$@"
        else
                echo "dev: '$*' needs root and sudo is not installed; run it as root" >&2
                return 1
        fi
}

# Regenerates ./configure when it is missing or older than what it is made from.
ensure_configure() {
        local stale=0 f
        [ -x "$TOP/configure" ] || stale=1
        for f in configure.ac Makefile.am; do
                [ "$TOP/$f" -nt "$TOP/configure" ] && stale=1
        done
        if [ "$stale" -eq 1 ]; then
                (cd "$TOP" && autoreconf -fi)
        fi
}

# configure_build DIR [configure options...]: a VPATH build in DIR, reconfigured when options change.
configure_build() {
        local dir=$1
        shift
        mkdir -p "$TOP/$dir"
        local want="$*"
        if [ ! -f "$TOP/$dir/Makefile" ] || [ "$(cat "$TOP/$dir/.configure-args" 2>/dev/null)" != "$want" ]; then
                (cd "$TOP/$dir" && "$TOP/configure" -q "$@")
                printf '%s' "$want" >"$TOP/$dir/.configure-args"
        fi
}
