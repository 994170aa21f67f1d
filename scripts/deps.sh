#!/usr/bin/env bash
# deps.sh - installs the Debian 12 packages Tollgate needs, and nothing that is already there.
#
#   scripts/deps.sh build   compiler, meson/ninja and the -dev packages of every library,
#                           Node.js and npm, then `npm ci` in web/ (the npm files the web UI
#                           serves, which the build compiles into the binary)
#   scripts/deps.sh test    build + clang 14 with its libFuzzer runtime (the fuzz stage) +
#                           Node.js (>= 18, or what tests/e2e/package.json's engines asks for),
#                           then `npm ci` in tests/e2e; Debian's chromium and fonts-noto-cjk,
#                           then `npm ci` in tests/browser (the browser suite)
#   scripts/deps.sh bench   build + wrk and nginx-light (the benchmark peer)
#   scripts/deps.sh bench-webhooks   bench + Node.js and `npm ci` in tests/e2e (the npm SDKs
#                           bench/webhooks-gen.mjs signs notifications with)
#
# Each package is checked with dpkg-query; apt-get runs (update, then install) only when
# something is missing, so a second run is silent. Needs root, or sudo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

BUILD_PKGS=(gcc pkg-config meson ninja-build python3 libh2o-evloop-dev libjansson-dev
    libsqlite3-dev libssl-dev libsodium-dev libcurl4-openssl-dev libmaxminddb-dev libqrencode-dev sqlite3
    ca-certificates curl)
# clang-14 with -fsanitize=fuzzer: libclang_rt.fuzzer*.a comes with libclang-rt-14-dev
# (libfuzzer-14-dev holds a separate libFuzzer.a that -fsanitize=fuzzer does not use).
FUZZ_PKGS=(clang-14 libclang-rt-14-dev)
BENCH_PKGS=(wrk nginx-light)
BROWSER_PKGS=(chromium fonts-noto-cjk)
NODE_MIN_MAJOR=18

say() { printf 'deps: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

usage() {
    echo "usage: $0 build|test|bench|bench-webhooks" >&2
    exit 2
}

is_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]]
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "root is needed to install packages (run as root or install sudo): $*"
    fi
}

APT_UPDATED=0
apt_install() {
    (($# > 0)) || return 0
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian 12; install by hand: $*"
    say "installing: $*"
    if ((APT_UPDATED == 0)); then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
            die "apt-get update failed"
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
        </dev/null || die "apt-get install failed for: $*"
}

# Installs whichever of the named Debian packages are missing.
ensure_pkgs() {
    local missing=() p
    for p in "$@"; do
        is_installed "$p" || missing+=("$p")
    done
    apt_install "${missing[@]}"
}

node_major() {
    node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}

# The Node major version the e2e suite asks for ("engines": {"node": ">=20"}), at least 18.
node_required() {
    local pj="$ROOT/tests/e2e/package.json"
    [[ -f "$pj" ]] || { echo "$NODE_MIN_MAJOR"; return; }
    python3 - "$pj" "$NODE_MIN_MAJOR" <<'PY'
import json, re, sys
want = int(sys.argv[2])
try:
    spec = (json.load(open(sys.argv[1])).get('engines') or {}).get('node') or ''
except (OSError, ValueError):
    spec = ''
m = re.search(r'(?:>=|\^|~|^)\s*v?(\d+)', spec.strip())
print(max(want, int(m.group(1))) if m else want)
PY
}

ensure_node() {
    local need want=()
    need="$(node_required)"
    if ! command -v node >/dev/null 2>&1; then
        want+=(nodejs)
    elif (($(node_major) < NODE_MIN_MAJOR)); then
        say "node $(node -v) is older than $NODE_MIN_MAJOR; installing Debian's nodejs"
        want+=(nodejs)
    fi
    # A node from elsewhere (nodesource, nvm) brings its own npm; Debian splits it out.
    command -v npm >/dev/null 2>&1 || want+=(npm)
    apt_install "${want[@]}"
    hash -r
    command -v node >/dev/null 2>&1 || die "node is still missing after installing nodejs"
    command -v npm >/dev/null 2>&1 || die "npm is still missing"
    if (($(node_major) < need)); then
        # Debian 12 ships Node 18; tests/e2e asks for more. The npm registry's
        # node-linux-<arch> package carries the official binary; `npm install -g` links it
        # as /usr/local/bin/node, ahead of /usr/bin/node on the default PATH.
        local arch
        case "$(uname -m)" in
        x86_64) arch=x64 ;;
        aarch64) arch=arm64 ;;
        *) die "node >= $need is needed by tests/e2e; install it by hand for $(uname -m)" ;;
        esac
        say "tests/e2e needs node >= $need (found $(node -v)); installing node-linux-$arch@$need from npm into /usr/local"
        as_root npm install -g --no-audit --no-fund --loglevel=error "node-linux-$arch@$need" </dev/null ||
            die "could not install node $need from npm"
        hash -r
    fi
    (($(node_major) >= need)) ||
        die "node $(node -v) found first on PATH ($(command -v node)) is older than $need"
}

# npm ci in folder $1 (relative to the repository) when it has a lock file and node_modules
# is missing or older than it (npm ci writes node_modules/.package-lock.json last).
ensure_npm_modules() {
    local rel="$1" dir="$ROOT/$1"
    [[ -f "$dir/package.json" ]] || return 0
    if [[ -f "$dir/package-lock.json" ]]; then
        local stamp="$dir/node_modules/.package-lock.json"
        if [[ ! -d "$dir/node_modules" || ! -f "$stamp" || "$dir/package-lock.json" -nt "$stamp" ||
            "$dir/package.json" -nt "$stamp" ]]; then
            say "npm ci in $rel"
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error </dev/null) ||
                die "npm ci failed in $rel"
        fi
    elif [[ ! -d "$dir/node_modules" ]] && grep -q '"dependencies"\|"devDependencies"' "$dir/package.json"; then
        say "$rel has no package-lock.json; running npm install (commit the lock file)"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error </dev/null) ||
            die "npm install failed in $rel"
    fi
}
ensure_e2e_modules() { ensure_npm_modules tests/e2e; }
# The web UI's npm files (web/vendor.json): the build reads them from web/node_modules.
ensure_web_modules() { ensure_npm_modules web; }
# The browser suite (tests/browser): Debian's chromium, a CJK font so that Chinese pages render
# in screenshots, and its npm packages (playwright-core drives the system chromium; it
# downloads no browser of its own).
ensure_browser() {
    ensure_pkgs "${BROWSER_PKGS[@]}"
    [[ -x /usr/bin/chromium ]] || die "/usr/bin/chromium is still missing after installing chromium"
    ensure_npm_modules tests/browser
}

[[ $# -eq 1 ]] || usage
case "$1" in
build)
    ensure_pkgs "${BUILD_PKGS[@]}"
    ensure_node
    ensure_web_modules
    ;;
test)
    ensure_pkgs "${BUILD_PKGS[@]}" "${FUZZ_PKGS[@]}"
    ensure_node
    ensure_web_modules
    ensure_e2e_modules
    ensure_browser
    ;;
bench)
    ensure_pkgs "${BUILD_PKGS[@]}" "${BENCH_PKGS[@]}"
    ensure_node
    ensure_web_modules
    ;;
bench-webhooks)
    ensure_pkgs "${BUILD_PKGS[@]}" "${BENCH_PKGS[@]}"
    ensure_node
    ensure_web_modules
    ensure_e2e_modules
    ;;
*)
    usage
    ;;
esac
