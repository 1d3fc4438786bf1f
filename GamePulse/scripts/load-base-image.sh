#!/usr/bin/env bash
# Copy the multi-platform base image from an OCI layout into a registry, so image builds can
# pull it (FROM / --build-arg BASE_IMAGE=HOST/REPO:TAG). Digests are preserved: the registry
# serves exactly the index, manifests and layers build-base-image.sh wrote.
#
# Usage: load-base-image.sh [--tls-verify] LAYOUT[:TAG] HOST/REPO:TAG
#   LAYOUT[:TAG]   OCI layout directory, optionally with the ref name inside it;
#                  "-" means GamePulse/.build/base-oci:latest
#   HOST/REPO:TAG  destination, e.g. 127.0.0.1:5000/gamepulse-base:bookworm
#   --tls-verify   require HTTPS with a valid certificate (default: off, for a local registry)
# Credentials: REGISTRY_CREDS=user:password if set (never printed); otherwise skopeo's usual
# auth file (skopeo login / docker login / REGISTRY_AUTH_FILE).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tls_verify=false

die() { echo "load-base-image: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

args=()
while [ $# -gt 0 ]; do
    case "$1" in
        --tls-verify) tls_verify=true; shift ;;
        -h|--help) usage; exit 0 ;;
        -) args+=("$1"); shift ;;
        -*) die "unknown option $1 (see --help)" ;;
        *) args+=("$1"); shift ;;
    esac
done
[ ${#args[@]} -eq 2 ] || { usage >&2; exit 2; }
source_ref=${args[0]}
dest=${args[1]}
[ "$source_ref" = - ] && source_ref="$(dirname "$SCRIPT_DIR")/.build/base-oci:latest"
command -v skopeo >/dev/null || die "skopeo not found (apt-get install skopeo)"

layout=${source_ref%:*}
[ "$layout" != "$source_ref" ] && [ -f "$layout/index.json" ] || layout=$source_ref
[ -f "$layout/index.json" ] || die "$layout is not an OCI layout (no index.json); run build-base-image.sh first"
case "$dest" in docker://*) dest=${dest#docker://} ;; esac

creds=()
if [ -n "${REGISTRY_CREDS:-}" ]; then
    creds=(--dest-creds "$REGISTRY_CREDS")
fi
digest_file=$(mktemp)
trap 'rm -f "$digest_file"' EXIT

skopeo copy --all --preserve-digests --retry-times 3 --dest-tls-verify="$tls_verify" \
    "${creds[@]}" --digestfile "$digest_file" "oci:$source_ref" "docker://$dest"
echo "$dest@$(cat "$digest_file")"
