#!/usr/bin/env bash
# clustd hook: point a DigitalOcean floating (reserved) IP at the master.
#
# promote: reads this droplet's id from the metadata service and assigns
#          $FLOATING_IP to it through the DigitalOcean API. Assigning moves
#          the IP away from the old master in one step.
# demote:  does nothing: the next master takes the IP over, and unassigning
#          here would only drop traffic sooner.
#
# clustd runs hooks with a cleared environment (only PATH and CLUSTD_*), so
# settings come from /etc/clustd/do.env (mode 0600, owned by root):
#   DO_TOKEN=dop_v1_...        API token with write access to floating IPs
#   FLOATING_IP=203.0.113.10
#   DO_API=https://api.digitalocean.com/v2/floating_ips   (or .../reserved_ips)
#
# config.yml:
#   drivers:
#     - type: bash
#       promote: /etc/clustd/do_floating_ip.sh
#       timeout_ms: 60000
#
# Needs curl. The droplet must be in the floating IP's region.
set -euo pipefail

ENV_FILE="${DO_ENV_FILE:-/etc/clustd/do.env}"
# shellcheck disable=SC1090
if [[ -r "$ENV_FILE" ]]; then source "$ENV_FILE"; fi
DO_API="${DO_API:-https://api.digitalocean.com/v2/floating_ips}"
METADATA_URL="${METADATA_URL:-http://169.254.169.254/metadata/v1/id}"

log() { echo "do_floating_ip.sh: $* (event=${CLUSTD_EVENT:-?} term=${CLUSTD_TERM:-?})"; }

promote() {
  : "${DO_TOKEN:?set DO_TOKEN in $ENV_FILE}"
  : "${FLOATING_IP:?set FLOATING_IP in $ENV_FILE}"
  local droplet_id
  droplet_id="$(curl -fsS --max-time 5 "$METADATA_URL")"
  if [[ ! "$droplet_id" =~ ^[0-9]+$ ]]; then
    log "metadata service returned no droplet id"
    exit 1
  fi
  curl -fsS --max-time 20 --retry 3 --retry-delay 1 \
    -X POST "$DO_API/$FLOATING_IP/actions" \
    -H "Authorization: Bearer $DO_TOKEN" \
    -H "Content-Type: application/json" \
    -d "{\"type\":\"assign\",\"droplet_id\":$droplet_id}" >/dev/null
  log "assigned $FLOATING_IP to droplet $droplet_id"
}

case "${CLUSTD_EVENT:-}" in
  promote) promote ;;
  demote) log "nothing to do; the next master takes ${FLOATING_IP:-the IP} over" ;;
  *) log "unknown CLUSTD_EVENT '${CLUSTD_EVENT:-}'"; exit 2 ;;
esac
