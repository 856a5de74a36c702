#!/usr/bin/env bash
# clustd hook: move a virtual IP (VIP) to the master.
#
# promote: adds $VIP to $DEV (idempotent), then announces it with gratuitous
#          ARP (`arping -U`, iputils) in the background, so the driver's queue
#          never waits for the announcements (a demote queued behind them would).
# demote:  stops an announcement still running, removes $VIP from $DEV if
#          present.
#
# clustd runs hooks with a cleared environment (only PATH and CLUSTD_*), so
# settings come from /etc/clustd/vip.env (VIP_ENV_FILE names another file).
# Required, with no default (a made-up address is worse than none):
#   VIP=10.0.0.100/24   address with prefix length
#   DEV=eth0            interface that carries it
# Optional:
#   ARP_COUNT=3         gratuitous ARPs on promote, one a second (1..100)
#   ANNOUNCE=yes        "no" skips them (then arping is not needed)
#   RUN_DIR=/run/clustd where the announcer's pid file is kept
#
# Exit codes: 0 done; 2 missing or bad settings, or an unknown event (nothing
# was changed); 3 the VIP was added but cannot be announced because arping is
# not installed (install iputils-arping, or set ANNOUNCE=no); others: `ip`
# failed.
#
# config.yml:
#   drivers:
#     - { type: bash, id: vip, promote: /etc/clustd/vip.sh, demote: /etc/clustd/vip.sh }
#
# Needs root (CAP_NET_ADMIN) and iproute2. IPv6 needs no arping: the kernel
# sends unsolicited neighbour advertisements when the address is added.
set -euo pipefail

log() { echo "vip.sh: $* (event=${CLUSTD_EVENT:-?} term=${CLUSTD_TERM:-?})"; }
fail() {
  echo "vip.sh: error: $2 (event=${CLUSTD_EVENT:-?} term=${CLUSTD_TERM:-?})" >&2
  exit "$1"
}

case "${CLUSTD_EVENT:-}" in
  promote | demote) ;;
  *) fail 2 "unknown CLUSTD_EVENT '${CLUSTD_EVENT:-}'" ;;
esac

ENV_FILE="${VIP_ENV_FILE:-/etc/clustd/vip.env}"
# shellcheck disable=SC1090
if [[ -r "$ENV_FILE" ]]; then source "$ENV_FILE"; fi
VIP="${VIP:-}"
DEV="${DEV:-}"
ARP_COUNT="${ARP_COUNT:-3}"
ANNOUNCE="${ANNOUNCE:-yes}"
RUN_DIR="${RUN_DIR:-/run/clustd}"

if [[ -z "$VIP" || -z "$DEV" ]]; then
  fail 2 "VIP and DEV must be set in $ENV_FILE, e.g. VIP=10.0.0.100/24 and DEV=eth0; nothing changed"
fi
if [[ ! "$VIP" =~ ^[0-9A-Fa-f.:]+/[0-9]{1,3}$ ]]; then
  fail 2 "VIP='$VIP' must be an address with its prefix length, e.g. 10.0.0.100/24; nothing changed"
fi
if [[ ! "$DEV" =~ ^[A-Za-z0-9_.@:-]{1,15}$ ]]; then
  fail 2 "DEV='$DEV' is not an interface name; nothing changed"
fi
if [[ ! "$ARP_COUNT" =~ ^[0-9]{1,3}$ ]] || ((ARP_COUNT < 1 || ARP_COUNT > 100)); then
  fail 2 "ARP_COUNT='$ARP_COUNT' must be a whole number from 1 to 100; nothing changed"
fi
if [[ "$ANNOUNCE" != yes && "$ANNOUNCE" != no ]]; then
  fail 2 "ANNOUNCE='$ANNOUNCE' must be yes or no; nothing changed"
fi
ADDRESS="${VIP%/*}"
PID_FILE="$RUN_DIR/vip-${DEV}-${ADDRESS//[:.]/_}.arping.pid"

has_vip() {
  # Not `ip ... | grep -q`: with pipefail, grep exiting at the first match can
  # kill ip with SIGPIPE and make the whole test false.
  local addresses
  addresses="$(ip -o addr show dev "$DEV")"
  [[ "$addresses" == *" ${ADDRESS}/"* ]]
}

stop_announcing() {
  [[ -r "$PID_FILE" ]] || return 0
  local pid
  pid="$(<"$PID_FILE")"
  # Only our own announcer: the pid may have been reused since.
  if [[ "$pid" =~ ^[0-9]+$ && "$(cat "/proc/$pid/comm" 2>/dev/null)" == arping ]]; then
    kill "$pid" 2>/dev/null || true
    log "stopped the announcement still running (pid $pid)"
  fi
  rm -f "$PID_FILE"
}

announce() {
  if [[ "$ADDRESS" == *:* || "$ANNOUNCE" == no ]]; then
    return 0
  fi
  if ! command -v arping >/dev/null 2>&1; then
    fail 3 "arping not found: $VIP is on $DEV but neighbours keep the old MAC until their ARP entry expires; install iputils-arping, or set ANNOUNCE=no"
  fi
  stop_announcing
  mkdir -p "$RUN_DIR"
  # Detached from our output pipes, so clustd sees this script end now.
  arping -U -c "$ARP_COUNT" -I "$DEV" "$ADDRESS" </dev/null >/dev/null 2>&1 &
  echo "$!" >"$PID_FILE"
  log "announcing $ADDRESS on $DEV: $ARP_COUNT gratuitous ARP(s) in the background (pid $!)"
}

promote() {
  ip addr replace "$VIP" dev "$DEV"
  log "added $VIP to $DEV"
  announce
}

demote() {
  stop_announcing
  if has_vip; then
    ip addr del "$VIP" dev "$DEV"
    log "removed $VIP from $DEV"
  else
    log "$VIP not on $DEV; nothing to do"
  fi
}

if [[ "$CLUSTD_EVENT" == promote ]]; then promote; else demote; fi
