#!/usr/bin/env bash
# mender-device.sh: a minimal Mender device client in bash (curl + openssl) that presents its TLS client
# certificate on every call. It authenticates like the Go client (signed auth request), then reports inventory
# and polls for deployments with the device JWT. See extra/README.md.
set -euo pipefail
shopt -s inherit_errexit
umask 077

PROG=${0##*/}
SERVER_URL=${MENDER_SERVER_URL:-https://localhost:8080}
CA_FILE=${MENDER_CA_FILE:-}
CERT_FILE=${MENDER_CERT_FILE:-}
KEY_FILE=${MENDER_KEY_FILE:-}
IDENTITY=${MENDER_IDENTITY:-mac=02:00:00:00:00:01}
TENANT_TOKEN=${MENDER_TENANT_TOKEN:-}
DATA_DIR=${MENDER_DATA_DIR:-${HOME:-.}/.mender-device}
DEVICE_TYPE=${MENDER_DEVICE_TYPE:-mtls-demo}
ARTIFACT_NAME=${MENDER_ARTIFACT_NAME:-release-1}
INTERVAL=${MENDER_INTERVAL:-30}
COUNT=${MENDER_COUNT:-0}
DRY_RUN=0
VERBOSE=0
COMMAND=
CURL_TLS=()

usage() {
  cat <<EOF
Usage: $PROG [options] <command>

Commands:
  auth        send a signed auth request; on 200 store the device JWT in the data dir
  inventory   PUT the device's inventory attributes (needs a JWT)
  poll        ask for the next deployment (v2, falling back to v1 on 404)
  status      GET /status
  loop        auth, then inventory + poll every --interval seconds (re-auth on 401/403)

Options (environment variable in brackets):
  -s, --server URL         server URL [MENDER_SERVER_URL] (default: https://localhost:8080)
  -c, --ca FILE            CA bundle that signed the server certificate [MENDER_CA_FILE] (default: system CAs)
  -C, --cert FILE          device certificate, chain file allowed [MENDER_CERT_FILE] (required)
  -k, --key FILE           device private key, RSA / EC P-256 or P-384 / Ed25519 [MENDER_KEY_FILE] (required)
  -i, --identity K=V       identity attribute, repeatable; the variable takes K=V,K=V
                           [MENDER_IDENTITY] (default: mac=02:00:00:00:00:01)
  -t, --tenant-token TOK   tenant token [MENDER_TENANT_TOKEN]
  -d, --data-dir DIR       where the JWT and request files live [MENDER_DATA_DIR] (default: ~/.mender-device)
  -T, --device-type TYPE   [MENDER_DEVICE_TYPE] (default: mtls-demo)
  -a, --artifact NAME      [MENDER_ARTIFACT_NAME] (default: release-1)
  -n, --interval SECONDS   loop interval [MENDER_INTERVAL] (default: 30)
  -N, --count N            loop rounds, 0 = forever [MENDER_COUNT] (default: 0)
      --dry-run            auth only: build and sign the request, print 'body=FILE' and 'signature=B64', send nothing
  -v, --verbose            log each request to stderr
  -h, --help               this text

Exit status: 0 success, 1 failure (TLS, connection or HTTP error; the response body goes to stderr),
2 bad usage, 4 the JWT was refused (401/403).
EOF
}

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n\n' "$PROG" "$*" >&2; usage >&2; exit 2; }
log() { if [ "$VERBOSE" = 1 ]; then printf '%s: %s\n' "$PROG" "$*" >&2; fi; }

# JSON string escaping for the characters that occur in PEM keys, identities and tokens.
json_escape() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\r'/\\r}
  s=${s//$'\t'/\\t}
  printf '%s' "$s"
}

# The identity as a JSON object: K=V,K=V -> {"K":"V","K":"V"}
identity_json() {
  local out='' pair key value
  local -a pairs
  IFS=',' read -r -a pairs <<<"$IDENTITY"
  for pair in "${pairs[@]}"; do
    [ -n "$pair" ] || continue
    case $pair in *=*) ;; *) usage_error "identity attribute must be K=V: $pair" ;; esac
    key=${pair%%=*}
    value=${pair#*=}
    out+="${out:+,}\"$(json_escape "$key")\":\"$(json_escape "$value")\""
  done
  [ -n "$out" ] || usage_error 'the identity is empty'
  printf '{%s}' "$out"
}

# rsa | ec | ed25519, from the public half of the key.
key_type() {
  local text
  text=$(openssl pkey -in "$KEY_FILE" -noout -text_pub 2>/dev/null) || die "cannot read private key $KEY_FILE"
  case $text in
    *ED25519*) echo ed25519 ;;
    *prime256v1* | *P-256* | *secp384r1* | *P-384*) echo ec ;;
    *Modulus* | *modulus*) echo rsa ;;
    *) die "unsupported key in $KEY_FILE (RSA, EC P-256/P-384 or Ed25519 only)" ;;
  esac
}

# Base64 signature of the exact bytes of a file: RSA PKCS#1 v1.5 / ECDSA (DER) over SHA-256, Ed25519 pure.
sign_file() {
  local file=$1 sig=$DATA_DIR/auth-request.sig type
  type=$(key_type) || return 1
  if [ "$type" = ed25519 ]; then
    openssl pkeyutl -sign -rawin -inkey "$KEY_FILE" -in "$file" -out "$sig" || die 'Ed25519 signing failed (needs OpenSSL 3)'
  else
    openssl dgst -sha256 -sign "$KEY_FILE" -out "$sig" "$file" || die 'signing failed'
  fi
  openssl base64 -A -in "$sig"
}

require_file() {
  [ -n "$2" ] || usage_error "$1 is required"
  [ -r "$2" ] || die "cannot read $1 file: $2"
}

setup_tls() {
  require_file --cert "$CERT_FILE"
  require_file --key "$KEY_FILE"
  CURL_TLS=(--silent --show-error --cert "$CERT_FILE" --key "$KEY_FILE")
  if [ -n "$CA_FILE" ]; then
    require_file --ca "$CA_FILE"
    CURL_TLS+=(--cacert "$CA_FILE")
  fi
}

# http METHOD PATH OUTFILE [curl args...]: prints the HTTP status; fails when curl does (TLS, connection).
http() {
  local method=$1 path=$2 out=$3
  shift 3
  log "$method $path"
  curl "${CURL_TLS[@]}" -X "$method" -o "$out" -w '%{http_code}' "$@" "${SERVER_URL%/}$path"
}

# Reports a non-2xx answer; returns 4 for a refused JWT, 1 otherwise.
http_failure() {
  local what=$1 code=$2 out=$3
  printf '%s: %s: HTTP %s: %s\n' "$PROG" "$what" "$code" "$(cat "$out" 2>/dev/null || true)" >&2
  case $code in 401 | 403) return 4 ;; *) return 1 ;; esac
}

jwt() {
  [ -s "$DATA_DIR/jwt" ] || die "no device token in $DATA_DIR/jwt: run '$PROG auth' first"
  cat "$DATA_DIR/jwt"
}

auth_body() {
  local pubkey
  pubkey=$(openssl pkey -in "$KEY_FILE" -pubout) || die "cannot derive the public key from $KEY_FILE"
  printf '{"id_data":"%s","pubkey":"%s"' "$(json_escape "$(identity_json)")" "$(json_escape "$pubkey"$'\n')"
  if [ -n "$TENANT_TOKEN" ]; then printf ',"tenant_token":"%s"' "$(json_escape "$TENANT_TOKEN")"; fi
  printf '}'
}

cmd_auth() {
  local body=$DATA_DIR/auth-request.json out=$DATA_DIR/auth-response sig code
  auth_body >"$body" || return 1
  sig=$(sign_file "$body") || return 1
  if [ "$DRY_RUN" = 1 ]; then
    printf 'body=%s\nsignature=%s\n' "$body" "$sig"
    return 0
  fi
  local -a headers=(-H 'Content-Type: application/json' -H "X-MEN-Signature: $sig")
  if [ -n "$TENANT_TOKEN" ]; then headers+=(-H "Authorization: Bearer $TENANT_TOKEN"); fi
  code=$(http POST /api/devices/v1/authentication/auth_requests "$out" --data-binary "@$body" "${headers[@]}") ||
    { printf '%s: auth: request failed (TLS or connection)\n' "$PROG" >&2; return 1; }
  if [ "$code" != 200 ]; then http_failure auth "$code" "$out" || return 1; fi
  mv -f "$out" "$DATA_DIR/jwt"
  echo "auth: accepted; device token stored in $DATA_DIR/jwt"
}

cmd_inventory() {
  local body=$DATA_DIR/inventory.json out=$DATA_DIR/inventory-response code attrs='' pair token
  local -a pairs
  token=$(jwt) || return 1
  IFS=',' read -r -a pairs <<<"$IDENTITY"
  for pair in "${pairs[@]}"; do
    if [ -n "$pair" ]; then attrs+=",{\"name\":\"$(json_escape "${pair%%=*}")\",\"value\":\"$(json_escape "${pair#*=}")\"}"; fi
  done
  printf '[{"name":"device_type","value":"%s"},{"name":"artifact_name","value":"%s"},{"name":"client","value":"%s"}%s]' \
    "$(json_escape "$DEVICE_TYPE")" "$(json_escape "$ARTIFACT_NAME")" "$PROG" "$attrs" >"$body"
  code=$(http PUT /api/devices/v1/inventory/device/attributes "$out" --data-binary "@$body" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $token") ||
    { printf '%s: inventory: request failed (TLS or connection)\n' "$PROG" >&2; return 1; }
  case $code in 2??) echo "inventory: sent (HTTP $code)" ;; *) http_failure inventory "$code" "$out" ;; esac
}

cmd_poll() {
  local out=$DATA_DIR/poll-response code token body
  token=$(jwt) || return 1
  body=$(printf '{"device_provides":{"device_type":"%s","artifact_name":"%s"}}' \
    "$(json_escape "$DEVICE_TYPE")" "$(json_escape "$ARTIFACT_NAME")")
  code=$(http POST /api/devices/v2/deployments/device/deployments/next "$out" --data-binary "$body" \
    -H 'Content-Type: application/json' -H "Authorization: Bearer $token") ||
    { printf '%s: poll: request failed (TLS or connection)\n' "$PROG" >&2; return 1; }
  if [ "$code" = 404 ]; then
    code=$(http GET /api/devices/v1/deployments/device/deployments/next "$out" -G \
      --data-urlencode "artifact_name=$ARTIFACT_NAME" --data-urlencode "device_type=$DEVICE_TYPE" \
      -H "Authorization: Bearer $token") ||
      { printf '%s: poll: request failed (TLS or connection)\n' "$PROG" >&2; return 1; }
  fi
  case $code in
    204) echo 'poll: no update' ;;
    200) echo "poll: deployment: $(cat "$out")" ;;
    *) http_failure poll "$code" "$out" ;;
  esac
}

cmd_status() {
  local out=$DATA_DIR/status-response code
  code=$(http GET /status "$out") || { printf '%s: status: request failed (TLS or connection)\n' "$PROG" >&2; return 1; }
  case $code in 2??) echo "status: HTTP $code $(cat "$out")" ;; *) http_failure status "$code" "$out" ;; esac
}

# One loop round: authenticate when there is no token, then inventory and poll; a refused token is dropped.
loop_round() {
  local rc=0
  if [ ! -s "$DATA_DIR/jwt" ]; then cmd_auth || return 1; fi
  cmd_inventory || rc=$?
  if [ "$rc" = 0 ]; then cmd_poll || rc=$?; fi
  if [ "$rc" = 4 ]; then rm -f "$DATA_DIR/jwt"; fi
  return "$rc"
}

cmd_loop() {
  local round=0 rc
  rm -f "$DATA_DIR/jwt"
  while :; do
    rc=0
    loop_round || rc=$?
    round=$((round + 1))
    log "round $round finished with status $rc"
    if [ "$COUNT" -gt 0 ] && [ "$round" -ge "$COUNT" ]; then return "$rc"; fi
    sleep "$INTERVAL"
  done
}

need_value() { [ "$#" -ge 2 ] || usage_error "$1 needs a value"; }

parse_args() {
  local identity_given=0
  while [ "$#" -gt 0 ]; do
    case $1 in
      -s | --server) need_value "$@"; SERVER_URL=$2; shift ;;
      -c | --ca) need_value "$@"; CA_FILE=$2; shift ;;
      -C | --cert) need_value "$@"; CERT_FILE=$2; shift ;;
      -k | --key) need_value "$@"; KEY_FILE=$2; shift ;;
      -i | --identity)
        need_value "$@"
        if [ "$identity_given" = 0 ]; then IDENTITY=$2; else IDENTITY+=",$2"; fi
        identity_given=1
        shift ;;
      -t | --tenant-token) need_value "$@"; TENANT_TOKEN=$2; shift ;;
      -d | --data-dir) need_value "$@"; DATA_DIR=$2; shift ;;
      -T | --device-type) need_value "$@"; DEVICE_TYPE=$2; shift ;;
      -a | --artifact) need_value "$@"; ARTIFACT_NAME=$2; shift ;;
      -n | --interval) need_value "$@"; INTERVAL=$2; shift ;;
      -N | --count) need_value "$@"; COUNT=$2; shift ;;
      --dry-run) DRY_RUN=1 ;;
      -v | --verbose) VERBOSE=1 ;;
      -h | --help) usage; exit 0 ;;
      auth | inventory | poll | status | loop)
        [ -z "$COMMAND" ] || usage_error "one command at a time ($COMMAND, $1)"
        COMMAND=$1 ;;
      *) usage_error "unknown argument: $1" ;;
    esac
    shift
  done
  [ -n "$COMMAND" ] || usage_error 'no command given'
  case "$INTERVAL,$COUNT" in *[!0-9,]* | ,* | *,) usage_error '--interval and --count take whole numbers' ;; esac
}

main() {
  parse_args "$@"
  identity_json >/dev/null
  mkdir -p "$DATA_DIR"
  if [ "$COMMAND" = auth ] && [ "$DRY_RUN" = 1 ]; then
    require_file --key "$KEY_FILE"
  else
    setup_tls
  fi
  "cmd_$COMMAND"
}

main "$@"
