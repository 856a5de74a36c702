#!/usr/bin/env bash
# clustd hook: run a systemd service only on the master.
#
# promote: systemctl start $SERVICE
# demote:  systemctl stop $SERVICE
#
# clustd runs hooks with a cleared environment (only PATH and CLUSTD_*), so
# the service name comes from /etc/clustd/service.env (or the default below):
#   SERVICE=haproxy.service
#
# config.yml:
#   drivers:
#     - type: bash
#       promote: /etc/clustd/systemd_service.sh
#       demote: /etc/clustd/systemd_service.sh
#       timeout_ms: 60000     # longer than the unit's own start/stop timeout
#
# Disable the unit at boot (`systemctl disable $SERVICE`): clustd decides where
# it runs. Needs root (or polkit rights to start/stop the unit).
set -euo pipefail

ENV_FILE="${SERVICE_ENV_FILE:-/etc/clustd/service.env}"
# shellcheck disable=SC1090
if [[ -r "$ENV_FILE" ]]; then source "$ENV_FILE"; fi
SERVICE="${SERVICE:-haproxy.service}"

log() { echo "systemd_service.sh: $* (event=${CLUSTD_EVENT:-?} term=${CLUSTD_TERM:-?})"; }

case "${CLUSTD_EVENT:-}" in
  promote)
    systemctl start "$SERVICE"
    log "started $SERVICE"
    ;;
  demote)
    systemctl stop "$SERVICE"
    log "stopped $SERVICE"
    ;;
  *)
    log "unknown CLUSTD_EVENT '${CLUSTD_EVENT:-}'"
    exit 2
    ;;
esac
