#!/usr/bin/env bash
# serve.sh - installs what is missing, builds a release binary and starts Tollgate.
#
#   scripts/serve.sh [tollgate serve options, e.g. --config FILE]
#
# With no configuration Tollgate uses SQLite in ./data (at the repository root), local file
# storage and the sandbox providers, listening on 127.0.0.1:8080 (DESIGN sections 9 and 10).
# Every TG_ variable in the environment is passed through (see README.md, Configuration).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_DIR=build-release

bash scripts/deps.sh build

log="$(mktemp "${TMPDIR:-/tmp}/tollgate-setup.XXXXXX")"
if [[ -f "$BUILD_DIR/build.ninja" ]]; then
    setup=(meson setup --reconfigure "$BUILD_DIR" --buildtype=release)
else
    setup=(meson setup "$BUILD_DIR" --buildtype=release)
fi
if ! "${setup[@]}" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "serve.sh: meson setup failed" >&2
    exit 1
fi
rm -f "$log"
ninja -C "$BUILD_DIR" tollgate

# Where it will listen: TG_LISTEN from the environment, else from a --config file, else the
# default. Only for the message; tollgate itself reads the configuration.
listen="${TG_LISTEN:-}"
if [[ -z "$listen" ]]; then
    args=("$@")
    for ((i = 0; i < ${#args[@]}; i++)); do
        cfg=""
        case "${args[i]}" in
        --config) cfg="${args[i + 1]:-}" ;;
        --config=*) cfg="${args[i]#--config=}" ;;
        esac
        if [[ -n "$cfg" && -f "$cfg" ]]; then
            listen="$(sed -n 's/^[[:space:]]*\(export[[:space:]]\+\)\?TG_LISTEN=["'\'']\?\([^"'\'']*\)["'\'']\?[[:space:]]*$/\2/p' "$cfg" | tail -n 1)"
        fi
    done
fi
listen="${listen:-127.0.0.1:8080}"
echo "Tollgate listens on http://$listen/ (data in ${TG_DATA_DIR:-$ROOT/data}; stop with Ctrl-C)"
exec "$BUILD_DIR/tollgate" serve "$@"
