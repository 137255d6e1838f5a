#!/usr/bin/env bash
# The Debian packages the tests drive as real processes, in one place: `bash scripts/test-deps.sh` installs the
# missing ones (as root, with apt-get), `bash scripts/test-deps.sh --check` only lists what is missing (exit 1 then).
# CI calls it, and the test suites' global setups call it before anything runs.
set -uo pipefail

# command → Debian package
TOOLS=(
  "go:golang-go" "haproxy:haproxy" "stunnel4:stunnel4" "socat:socat" "openssl:openssl" "curl:curl"
  "dbus-daemon:dbus-daemon" "dbus-send:dbus" "busctl:systemd" "systemd-analyze:systemd"
  "systemd-socket-activate:systemd" "gdbus:libglib2.0-bin" "make:make" "prlimit:util-linux" "python3:python3"
)

missing () {
  local entry
  for entry in "${TOOLS[@]}"; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || echo "${entry#*:}"
  done | sort -u
}

pkgs=$(missing)
[ -z "$pkgs" ] && exit 0
if [ "${1:-}" = "--check" ]; then
  echo "missing Debian packages: $(echo $pkgs) (install them with: apt-get install $(echo $pkgs))"
  exit 1
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "test-deps: missing Debian packages $(echo $pkgs); run as root on Debian, or: apt-get install $(echo $pkgs)" >&2
  exit 1
fi
echo "test-deps: installing $(echo $pkgs)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
# dbus-daemon is its own package from Debian 12; older releases ship it in dbus
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends ca-certificates $pkgs >/dev/null ||
  apt-get install -y -qq --no-install-recommends ca-certificates ${pkgs//dbus-daemon/dbus} >/dev/null
left=$(missing)
[ -z "$left" ] || { echo "test-deps: still missing after apt-get: $(echo $left)" >&2; exit 1; }
