#!/usr/bin/env bash
# clustd hook: move a virtual IP (VIP) to the master.
#
# promote: adds $VIP to $DEV (idempotent) and announces it with gratuitous ARP
#          (`arping -U`, iputils) so switches and neighbours update at once.
# demote:  removes $VIP from $DEV if present.
#
# clustd runs hooks with a cleared environment (only PATH and CLUSTD_*), so
# settings come from /etc/clustd/vip.env (or the defaults below):
#   VIP=10.0.0.100/24   address with prefix length
#   DEV=eth0            interface that carries it
#   ARP_COUNT=3         gratuitous ARPs to send on promote
#
# config.yml:
#   drivers:
#     - { type: bash, promote: /etc/clustd/vip.sh, demote: /etc/clustd/vip.sh }
#
# Needs root (CAP_NET_ADMIN) and iproute2; arping is optional (IPv4 only;
# for IPv6 the kernel sends unsolicited neighbour advertisements on add).
set -euo pipefail

ENV_FILE="${VIP_ENV_FILE:-/etc/clustd/vip.env}"
# shellcheck disable=SC1090
if [[ -r "$ENV_FILE" ]]; then source "$ENV_FILE"; fi
VIP="${VIP:-10.0.0.100/24}"
DEV="${DEV:-eth0}"
ARP_COUNT="${ARP_COUNT:-3}"
ADDRESS="${VIP%/*}"

log() { echo "vip.sh: $* (event=${CLUSTD_EVENT:-?} term=${CLUSTD_TERM:-?})"; }

has_vip() {
  # Not `ip ... | grep -q`: with pipefail, grep exiting at the first match can
  # kill ip with SIGPIPE and make the whole test false.
  local addresses
  addresses="$(ip -o addr show dev "$DEV")"
  [[ "$addresses" == *" ${ADDRESS}/"* ]]
}

promote() {
  ip addr replace "$VIP" dev "$DEV"
  log "added $VIP to $DEV"
  if [[ "$ADDRESS" == *:* ]]; then
    return 0
  fi
  if command -v arping >/dev/null 2>&1; then
    arping -U -c "$ARP_COUNT" -I "$DEV" "$ADDRESS" >/dev/null ||
      log "warning: arping failed; neighbours learn the new MAC when their ARP entry expires"
  else
    log "warning: arping not installed; install iputils-arping for instant failover"
  fi
}

demote() {
  if has_vip; then
    ip addr del "$VIP" dev "$DEV"
    log "removed $VIP from $DEV"
  else
    log "$VIP not on $DEV; nothing to do"
  fi
}

case "${CLUSTD_EVENT:-}" in
  promote) promote ;;
  demote) demote ;;
  *) log "unknown CLUSTD_EVENT '${CLUSTD_EVENT:-}'"; exit 2 ;;
esac
