#!/usr/bin/env bash
# Run a command inside a minimal Debian root made by debootstrap (as root), then clean up.
#
#   scripts/debian-root.sh [--suite bookworm] [--include pkg,pkg] [--bind SRC:DEST]... [--keep] ROOT -- COMMAND...
#
# ROOT is created (debootstrap --variant=minbase) unless it already holds a root made by this
# script; the command runs there with /proc, /sys, /dev (with /dev/fuse and /dev/shm), /dev/pts
# and the host's resolv.conf bind-mounted (and each --bind folder at DEST), in a new mount
# namespace, so every mount goes away with it. Without --keep, ROOT is deleted afterwards.
# Used by scripts/fresh-debian-check.sh ("does the README's make test pass on a fresh Debian
# 12?") and make test-py313 (the suite on Debian 13's Python 3.13, Colab's version).
set -euo pipefail

suite=bookworm
include=python3,python3-venv,python3-pip,git,make,curl  # what a fresh Debian has (README)
keep=false
binds=()
while [ $# -gt 0 ]; do
  case "$1" in
    --suite) suite=$2; shift 2 ;;
    --include) include=$2; shift 2 ;;
    --keep) keep=true; shift ;;
    --bind) binds+=("$2"); shift 2 ;;
    --) shift; break ;;
    -*) echo "unknown option $1" >&2; exit 2 ;;
    *) root=$1; shift ;;
  esac
done
[ "${1:-}" = "--" ] && shift
if [ -z "${root:-}" ] || [ $# -eq 0 ]; then
  sed -n '2,9p' "$0" >&2; exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "debian-root.sh needs root (debootstrap, chroot, bind mounts)." >&2; exit 1
fi
"$(dirname "$0")/install-system-deps.sh" debootstrap

marker=$root/.drivewidget-debian-root
if [ ! -e "$marker" ]; then
  if [ -e "$root" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; then
    echo "$root exists and was not made by this script: refusing to use it." >&2; exit 1
  fi
  mkdir -p "$root"
  echo "debootstrap $suite into $root (minbase + $include)"
  debootstrap --variant=minbase --include="$include" "$suite" "$root" http://deb.debian.org/debian \
    > "$root.debootstrap.log" 2>&1 || { tail -20 "$root.debootstrap.log" >&2; exit 1; }
  rm -f "$root.debootstrap.log"
  echo "$suite" > "$marker"
fi

cleanup() {
  if ! $keep; then
    # The namespace took its mounts with it; refuse to delete through one that leaked anyway.
    if grep -q " $(readlink -f "$root")/" /proc/self/mountinfo; then
      echo "mounts left under $root: not deleting it" >&2
    else
      rm -rf --one-file-system "$root"
    fi
  fi
}
trap cleanup EXIT

# What the host trusts for HTTPS, at a path of its own (installing ca-certificates in the root
# rewrites the usual one): pip and uv need it where the network inspects TLS with a local
# authority, and a minbase root has no certificates at all. Proxy settings pass through too.
envs=(HOME=/root TERM=dumb LANG=C.UTF-8 PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
      "CI=${CI:-}")
host_ca=${SSL_CERT_FILE:-${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}}
if [ -r "$host_ca" ]; then
  cp -L "$host_ca" "$root/etc/host-ca-certificates.crt"
  envs+=(SSL_CERT_FILE=/etc/host-ca-certificates.crt PIP_CERT=/etc/host-ca-certificates.crt
         REQUESTS_CA_BUNDLE=/etc/host-ca-certificates.crt)
fi
for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY PIP_INDEX_URL UV_INDEX_URL; do
  [ -n "${!var:-}" ] && envs+=("$var=${!var}")
done

# A private mount namespace: the bind mounts below vanish when the command ends, however it ends.
# Inside a root made by this script (make test-py313 run by the fresh Debian check) "/" is no
# mount point, so its propagation cannot be changed; that namespace is private already.
propagation=private
unshare --mount --propagation private true 2>/dev/null || propagation=unchanged
unshare --mount --propagation "$propagation" -- bash -euo pipefail -c '
  root=$1; count=$2; shift 2
  envs=("${@:1:$count}"); shift "$count"
  count=$1; shift
  binds=("${@:1:$count}"); shift "$count"
  for fs in proc sys dev dev/pts dev/shm; do mkdir -p "$root/$fs"; mount --rbind "/$fs" "$root/$fs"; done
  mount --make-rslave "$root/dev"; mount --make-rslave "$root/sys"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf"
  for bind in ${binds[@]+"${binds[@]}"}; do
    mkdir -p "$root${bind#*:}"; mount --bind "${bind%%:*}" "$root${bind#*:}"
  done
  [ -e /dev/fuse ] || echo "(no /dev/fuse on this host: FUSE tests will skip)" >&2
  exec chroot "$root" /usr/bin/env -i "${envs[@]}" "$@"
' debian-root "$root" "${#envs[@]}" "${envs[@]}" "${#binds[@]}" ${binds[@]+"${binds[@]}"} "$@"
