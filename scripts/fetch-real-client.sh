#!/usr/bin/env bash
# Provides the real Mender device client (mender-client) and mender-connect for the e2e tests: downloads the
# Debian packages into the git-ignored .cache/debian/ folder and unpacks them there (no system install).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="${ROOT_DIR}/.cache/debian"
EXTRACT_DIR="${CACHE_DIR}/root"
PACKAGES=(mender-client mender-connect)
BINARIES=("${EXTRACT_DIR}/usr/bin/mender" "${EXTRACT_DIR}/usr/bin/mender-connect")

log () { echo "fetch-real-client: $*"; }

have_binaries () {
  local bin
  for bin in "${BINARIES[@]}"; do
    [[ -x "${bin}" ]] || return 1
  done
}

have_debs () {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    compgen -G "${CACHE_DIR}/${pkg}_*.deb" > /dev/null || return 1
  done
}

download_debs () {
  local -a APT_OPTS=()
  # root: let apt write into the cache folder directly instead of warning about its sandbox user
  [[ "$(id -u)" != 0 ]] || APT_OPTS=(-o APT::Sandbox::User=root)
  command -v apt-get > /dev/null || { log "apt-get not found: cannot download ${PACKAGES[*]}"; return 1; }
  if (cd "${CACHE_DIR}" && apt-get "${APT_OPTS[@]}" download "${PACKAGES[@]}"); then
    log "downloaded ${PACKAGES[*]} into ${CACHE_DIR}"
    return 0
  fi
  log "apt-get download failed; running apt-get update and retrying"
  [[ "$(id -u)" == 0 ]] || { log "not root: cannot run apt-get update"; return 1; }
  apt-get update
  (cd "${CACHE_DIR}" && apt-get "${APT_OPTS[@]}" download "${PACKAGES[@]}")
  log "downloaded ${PACKAGES[*]} into ${CACHE_DIR} after apt-get update"
}

extract_debs () {
  local pkg deb
  command -v dpkg > /dev/null || { log "dpkg not found: cannot unpack the packages"; return 1; }
  local tmp="${EXTRACT_DIR}.tmp.$$"
  rm -rf "${tmp}"
  mkdir -p "${tmp}"
  for pkg in "${PACKAGES[@]}"; do
    deb="$(printf '%s\n' "${CACHE_DIR}/${pkg}"_*.deb | sort -V | tail -n 1)"
    dpkg -x "${deb}" "${tmp}"
    log "unpacked $(basename "${deb}")"
  done
  rm -rf "${EXTRACT_DIR}"
  mv "${tmp}" "${EXTRACT_DIR}"
  log "binaries in ${EXTRACT_DIR}/usr/bin"
}

ensure_dbus_daemon () {
  if command -v dbus-daemon > /dev/null; then
    log "dbus-daemon present: $(command -v dbus-daemon)"
    return 0
  fi
  if [[ "$(id -u)" != 0 ]]; then
    log "dbus-daemon missing and not root: install dbus-daemon (or dbus) for the mender-connect test"
    return 1
  fi
  log "dbus-daemon missing: installing it"
  apt-get install -y dbus-daemon || { apt-get update && apt-get install -y dbus-daemon; } || apt-get install -y dbus
  command -v dbus-daemon > /dev/null
}

main () {
  mkdir -p "${CACHE_DIR}"
  # concurrent test runs share the cache: one fetch at a time
  if command -v flock > /dev/null; then
    exec 9> "${CACHE_DIR}/.lock"
    flock 9
  fi
  if have_binaries; then
    log "binaries already present in ${EXTRACT_DIR}/usr/bin"
  else
    if have_debs; then log "packages already downloaded in ${CACHE_DIR}"; else download_debs; fi
    extract_debs
  fi
  have_binaries || { log "ERROR: ${BINARIES[*]} not available after unpacking"; exit 1; }
  ensure_dbus_daemon || { log "ERROR: dbus-daemon not available"; exit 1; }
  "${EXTRACT_DIR}/usr/bin/mender" --version 2> /dev/null | head -n 1 | sed 's/^/fetch-real-client: /' || true
  log "ok"
}

main "$@"
