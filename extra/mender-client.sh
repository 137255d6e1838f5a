#!/usr/bin/env bash
# mender-client.sh: the original mTLS ambassador's device script interface (-t tenant token, -d device type,
# MENDER_SERVER_URL, MENDER_CLIENT_CERT, MENDER_CLIENT_KEY), run by mender-device.sh: authenticate (retried until
# accepted), then report inventory and poll for deployments every few seconds. See extra/README.md.
set -euo pipefail
shopt -s inherit_errexit

PROG=${0##*/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TENANT_TOKEN=${MENDER_TENANT_TOKEN:-}
DEVICE_TYPE=${DEVICE_TYPE:-${MENDER_DEVICE_TYPE:-bash-client}}

usage() {
  cat <<EOF
Usage: $PROG -t TENANT_TOKEN [-d DEVICE_TYPE]

A Mender device with the interface of the original ambassador's mender-client.sh, through this ambassador:
it sends a signed auth request every MENDER_INTERVAL seconds until Mender accepts the device, then reports its
inventory and polls for deployments (it prints a deployment; it installs nothing). Every call presents the
device's TLS client certificate.

Options:
  -t, --token TOKEN         tenant token [MENDER_TENANT_TOKEN] (required)
  -d, --device-type TYPE    device type reported to Mender [DEVICE_TYPE] (default: bash-client)
  -h, --help                this text

Environment:
  MENDER_SERVER_URL         the ambassador (default: https://localhost:8080)
  MENDER_CLIENT_CERT        device certificate, chain file allowed (required)
  MENDER_CLIENT_KEY         its private key; it also signs the auth request, as the ambassador requires (required)
  MENDER_CA_FILE            CA that signed the ambassador's certificate (default: system CAs; never skipped)
  MENDER_IDENTITY           identity K=V,K=V (default: mac=00:11:22:XX:XX:XX, XX from the key's SHA-256)
  MENDER_DATA_DIR           JWT and request files (default: ~/.mender-client)
  MENDER_ARTIFACT_NAME      (default: release-v1)
  MENDER_INTERVAL           seconds between rounds (default: 5)
  MENDER_COUNT              rounds, 0 = forever (default: 0)

Exit status: that of mender-device.sh loop with --count; 2 for bad usage.
EOF
}

usage_error() { printf '%s: %s\n\n' "$PROG" "$*" >&2; usage >&2; exit 2; }

while [ "$#" -gt 0 ]; do
  case $1 in
    -t | --token) [ "$#" -ge 2 ] || usage_error "$1 needs a value"; TENANT_TOKEN=$2; shift 2 ;;
    -d | --device-type) [ "$#" -ge 2 ] || usage_error "$1 needs a value"; DEVICE_TYPE=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unknown argument: $1" ;;
  esac
done

[ -n "$TENANT_TOKEN" ] || usage_error 'a tenant token is required (-t or MENDER_TENANT_TOKEN)'
CERT=${MENDER_CLIENT_CERT:-}
KEY=${MENDER_CLIENT_KEY:-}
if [ -z "$CERT" ] || [ -z "$KEY" ]; then
  usage_error 'MENDER_CLIENT_CERT and MENDER_CLIENT_KEY are required: the ambassador admits only devices with a certificate'
fi
[ -r "$KEY" ] || { printf '%s: cannot read MENDER_CLIENT_KEY: %s\n' "$PROG" "$KEY" >&2; exit 1; }

# A stable identity shaped like the original's (00:11:22 and three bytes), taken from the device key.
default_identity() {
  local hex
  hex=$(openssl pkey -in "$KEY" -pubout -outform DER | openssl dgst -sha256 -r) ||
    { printf '%s: cannot read the key %s\n' "$PROG" "$KEY" >&2; return 1; }
  printf 'mac=00:11:22:%s:%s:%s' "${hex:0:2}" "${hex:2:2}" "${hex:4:2}"
}

DEVICE_SH=$HERE/mender-device.sh
[ -x "$DEVICE_SH" ] || DEVICE_SH=$(command -v mender-device.sh) ||
  { printf '%s: mender-device.sh not found beside this script or on PATH\n' "$PROG" >&2; exit 1; }

IDENTITY=${MENDER_IDENTITY:-$(default_identity)}
args=(--server "${MENDER_SERVER_URL:-https://localhost:8080}" --cert "$CERT" --key "$KEY"
  --tenant-token "$TENANT_TOKEN" --device-type "$DEVICE_TYPE" --identity "$IDENTITY"
  --data-dir "${MENDER_DATA_DIR:-${HOME:-.}/.mender-client}" --artifact "${MENDER_ARTIFACT_NAME:-release-v1}"
  --interval "${MENDER_INTERVAL:-5}" --count "${MENDER_COUNT:-0}")
if [ -n "${MENDER_CA_FILE:-}" ]; then args+=(--ca "$MENDER_CA_FILE"); fi
echo "$PROG: device $IDENTITY, type $DEVICE_TYPE, server ${MENDER_SERVER_URL:-https://localhost:8080}"
exec "$DEVICE_SH" "${args[@]}" loop
