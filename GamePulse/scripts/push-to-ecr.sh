#!/usr/bin/env bash
# The brief's push-to-ecr script, kept by name: a thin wrapper over `shipyard push`.
#
#   ./scripts/push-to-ecr.sh                           # version from the branch rules
#   ./scripts/push-to-ecr.sh --version 1.2.3           # a given version
#   ./scripts/push-to-ecr.sh --bump patch              # the old script's default: patch bump
#   ./scripts/push-to-ecr.sh --multi-arch --latest --scan
#   ./scripts/push-to-ecr.sh --dry-run --version 1.2.3
#
# Environment: AWS_REGION (default ap-northeast-2), AWS_ACCOUNT_ID (detected with STS when
# unset), ECR_REPOSITORY (default gamepulse), AWS_ENDPOINT_URL and SHIPYARD_REGISTRY (the
# sandbox), GAMEPULSE_BASE_IMAGE (default: gamepulse-base:bookworm in the registry pushed to).
# Every flag of `shipyard push` works; see `shipyard push --help`.
set -euo pipefail

service_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shipyard="$(command -v shipyard || true)"
if [ -z "$shipyard" ]; then
  # Not installed on PATH: use the repository's own virtualenv (dev/bootstrap makes it).
  shipyard="$service_dir/../.venv/bin/shipyard"
fi
if [ ! -x "$shipyard" ]; then
  echo "push-to-ecr.sh: shipyard is not installed; run dev/bootstrap from the repository root" >&2
  exit 2
fi
exec "$shipyard" -C "$service_dir" push "$@"
