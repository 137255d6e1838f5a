#!/usr/bin/env bash
# The Debian packages the tests drive as real processes, in one place: `bash scripts/test-deps.sh` installs the
# missing ones (as root, with apt-get), `bash scripts/test-deps.sh --check` only lists what is missing (exit 1 then).
# CI calls it, and the test suites' global setups call it before anything runs. `--bench` takes instead what
# `npm run bench` needs (HAProxy, nginx, stunnel, wrk, a C compiler and the OpenSSL headers for wrk's
# client-certificate shim); it combines with --check.
set -uo pipefail

# command → Debian package
TOOLS=(
  "go:golang-go" "haproxy:haproxy" "stunnel4:stunnel4" "socat:socat" "openssl:openssl" "curl:curl"
  "dbus-daemon:dbus-daemon" "dbus-send:dbus" "busctl:systemd" "systemd-analyze:systemd"
  "systemd-socket-activate:systemd" "gdbus:libglib2.0-bin" "make:make" "prlimit:util-linux" "python3:python3"
)
check=0
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    # an entry starting with / is a file the package provides
    --bench) TOOLS=("haproxy:haproxy" "nginx:nginx" "stunnel4:stunnel4" "wrk:wrk" "openssl:openssl" "cc:gcc"
      "/usr/include/openssl/ssl.h:libssl-dev" "prlimit:util-linux") ;;
    *) echo "test-deps: unknown option $arg (known: --check, --bench)" >&2; exit 2 ;;
  esac
done

missing () {
  local entry
  for entry in "${TOOLS[@]}"; do
    case "$entry" in
      /*) [ -e "${entry%%:*}" ] || echo "${entry#*:}" ;;
      *) command -v "${entry%%:*}" >/dev/null 2>&1 || echo "${entry#*:}" ;;
    esac
  done | sort -u
}

pkgs=$(missing)
[ -z "$pkgs" ] && exit 0
if [ "$check" = 1 ]; then
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
