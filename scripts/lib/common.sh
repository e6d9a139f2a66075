# Helpers sourced by the scripts in scripts/: timing, package installs.
# shellcheck shell=bash

SCRIPT_STARTED=$(date +%s)
PHASE_SUMMARY=()

# phase NAME COMMAND...: runs a command, printing its name and duration.
phase() {
    local name=$1
    shift
    local started
    started=$(date +%s)
    echo "==> ${name}"
    "$@"
    local took=$(( $(date +%s) - started ))
    PHASE_SUMMARY+=("$(printf '%-28s %4ss' "${name}" "${took}")")
    echo "<== ${name}: ${took}s"
}

print_phase_summary() {
    echo "---- phase times ----"
    local line
    for line in "${PHASE_SUMMARY[@]}"; do
        echo "${line}"
    done
    echo "total                        $(( $(date +%s) - SCRIPT_STARTED ))s"
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        echo "need root to run: $*" >&2
        return 1
    fi
}

APT_UPDATED=0
# apt_install PACKAGE...: installs Debian packages that are missing.
apt_install() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "install ok installed"; then
            missing+=("${pkg}")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "missing packages ${missing[*]} and no apt-get to install them" >&2
        return 1
    fi
    echo "installing ${missing[*]}"
    if [ "${APT_UPDATED}" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build dependencies: diesel links the system libpq.
ensure_build_deps() {
    apt_install libpq-dev pkg-config
}
