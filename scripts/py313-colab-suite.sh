#!/usr/bin/env bash
# The suite (no browsers) on Colab's Python 3.13 with Colab's package versions (`make test-py313`).
#
# Debian 12 has no Python 3.13; Debian 13 ("trixie") ships it. As root, this makes (once, then
# reuses) a minimal Debian 13 root with scripts/debian-root.sh, and runs itself inside it with
# this checkout at /work/drivewidget: a venv there gets Colab's pip, kernel stack and the
# project's dependencies at Colab's versions (scripts/colab_stack.py), installing drivewidget
# must change none of them, then pytest runs everything but the browser tests.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" != --inside ]; then
  root=${PY313_ROOT:-$here/.debian13-root}
  if [ "$(id -u)" -ne 0 ]; then
    echo "make test-py313 needs root (debootstrap and chroot): skipped." >&2; exit 0
  fi
  exec "$here/scripts/debian-root.sh" --suite trixie --keep \
    --include python3,python3-venv,fuse3,strace,git --bind "$here:/work/drivewidget" \
    "$root" -- /work/drivewidget/scripts/py313-colab-suite.sh --inside
fi

cd /work/drivewidget
venv=/opt/colab-venv
python3 -c 'import sys; assert sys.version_info[:2] == (3, 13), sys.version'
[ -x $venv/bin/python ] || python3 -m venv $venv
py=$venv/bin/python
$py scripts/colab_stack.py preinstall --image gpu $py pytest pytest-timeout hypothesis nbformat nbclient
$py scripts/colab_stack.py install-unchanged $py -- --quiet -e '.[rclone]'
$py scripts/colab_stack.py check-env --image gpu $py
echo "Python $($py -c 'import platform; print(platform.python_version())'), Colab's stack:" \
  "$($py -m pip list --format=freeze 2>/dev/null | grep -iE '^(ipykernel|ipython|traitlets|ipywidgets|tornado)==' | tr '\n' ' ')"
exec $py -m pytest -p no:cacheprovider -m "not browser" -o "cache_dir=/tmp/pytest-cache"
