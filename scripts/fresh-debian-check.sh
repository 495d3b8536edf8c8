#!/usr/bin/env bash
# Do the README's two commands work on a fresh Debian 12? Run before changing install steps.
#
#   scripts/fresh-debian-check.sh [ROOT]      (as root; `make test-fresh-debian`)
#
# Makes a minimal Debian 12 root (debootstrap minbase with only python3, venv, pip, git, make,
# curl: what the README assumes), clones this repository's HEAD into it (committed work only,
# as CI sees it), then inside it: starts `make demo`, fetches the JupyterLab page it serves
# and stops it; runs `CI=true make test </dev/null` as .ci/run does. ROOT is removed afterwards
# (default: a fresh folder under /var/tmp; it needs ~3 GiB).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
root=${1:-$(mktemp -d /var/tmp/drivewidget-debian12.XXXXXX)}
[ -d "$root" ] && [ -z "$(ls -A "$root")" ] && rmdir "$root"

"$here/scripts/debian-root.sh" --suite bookworm --keep "$root" -- true
git clone --quiet "$here" "$root/work/drivewidget"
cat > "$root/work/check.sh" <<'EOF'
#!/bin/bash
set -euo pipefail
cd /work/drivewidget
echo "== make demo (started, page fetched, stopped)"
setsid make demo PORT=18765 > /work/demo.log 2>&1 < /dev/null &
demo=$!
url=
for _ in $(seq 600); do
  url=$(grep -o 'http://127.0.0.1:18765/lab?token=[0-9a-f]*' /work/demo.log | head -1 || true)
  [ -n "$url" ] && break
  kill -0 $demo 2>/dev/null || { tail -30 /work/demo.log; echo "make demo exited"; exit 1; }
  sleep 1
done
[ -n "$url" ] || { tail -30 /work/demo.log; echo "make demo printed no address in 10 min"; exit 1; }
page=$(curl -fsS "$url")
kill -TERM -- -$demo; wait $demo || true
grep -q "JupyterLab" <<<"$page" || { echo "the demo's page is not JupyterLab"; exit 1; }
echo "make demo: served JupyterLab at ${url%%\?*}"
echo "== CI=true make test"
CI=true make test < /dev/null
EOF
chmod +x "$root/work/check.sh"
start=$(date +%s)
status=0
"$here/scripts/debian-root.sh" "$root" -- /work/check.sh || status=$?
echo "fresh Debian 12 check: exit $status after $(( $(date +%s) - start )) s (root $root removed)"
exit $status
