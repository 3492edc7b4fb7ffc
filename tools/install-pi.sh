#!/usr/bin/env bash
# Install trapd as a service on Raspberry Pi OS (Bookworm or later). Run from a trapd checkout:
#
#   sudo tools/install-pi.sh            # install or update; safe to run again
#   tools/install-pi.sh --dry-run       # print every step, change nothing
#   sudo tools/install-pi.sh --start    # also start the service now
#
# Steps: apt packages (picamera2 and the lgpio pin factory come from apt on Pi OS), a venv that
# sees them (--system-site-packages), trapd installed into it, the `trapd` system user in the
# gpio and video groups, /etc/trapd/config.yaml (never overwritten), the systemd unit, enabled.
set -euo pipefail

PREFIX=/opt/trapd
VENV=$PREFIX/venv
CONFIG_DIR=/etc/trapd
UNIT=/etc/systemd/system/trapd.service
# python3-simplejpeg comes with picamera2 (it depends on it); named too, as trapd encodes frames with it.
APT_PACKAGES=(python3-picamera2 python3-simplejpeg python3-lgpio python3-venv python3-pip)
SOURCE=$(cd "$(dirname "$0")/.." && pwd)

dry_run=0
start=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --start) start=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "install-pi.sh: unknown option $arg (use --dry-run, --start)" >&2; exit 64 ;;
  esac
done

step() {  # step "what it does" command...: run it, or in a dry run say what would run
  if [ "$dry_run" = 1 ]; then
    printf 'would: %s\n       %s\n' "$1" "${*:2}"
  else
    printf '==> %s\n' "$1"
    "${@:2}"
  fi
}

skip() { printf 'ok:    %s\n' "$1"; }

if [ "$dry_run" = 0 ] && [ "$(id -u)" != 0 ]; then
  echo "install-pi.sh: run as root (sudo tools/install-pi.sh), or with --dry-run to see the steps" >&2
  exit 77
fi
[ -f "$SOURCE/pyproject.toml" ] && [ -f "$SOURCE/systemd/trapd.service" ] || {
  echo "install-pi.sh: run it from a trapd checkout (no pyproject.toml and systemd/ at $SOURCE)" >&2
  exit 66
}
codename=$( . /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-unknown}" || echo unknown)
case "$codename" in
  bookworm|trixie|forky) ;;
  *) echo "note: this is '$codename', not Raspberry Pi OS Bookworm or later; continuing" >&2 ;;
esac

missing=()
for package in "${APT_PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  step "refresh the package lists" apt-get update
  # No "recommends": python3-picamera2 would pull the Qt/OpenGL desktop stack onto Pi OS Lite.
  step "install apt packages: ${missing[*]}" apt-get install -y --no-install-recommends "${missing[@]}"
else
  skip "apt packages installed"
fi

if [ -x "$VENV/bin/python" ]; then
  skip "venv $VENV exists"
else
  step "create the venv (seeing apt's picamera2)" python3 -m venv --system-site-packages "$VENV"
fi
step "install trapd from $SOURCE into the venv" "$VENV/bin/pip" install --upgrade "$SOURCE"
step "install the README the unit points to" install -D -m 644 "$SOURCE/README.md" "$PREFIX/README.md"

groups=()
for group in gpio video; do
  getent group "$group" >/dev/null && groups+=("$group")
done
group_list=$(IFS=,; echo "${groups[*]}")
[ ${#groups[@]} -eq 2 ] || echo "note: group(s) missing here (not Pi OS?): only '$group_list' will be used" >&2
if id trapd >/dev/null 2>&1; then
  skip "user trapd exists"
  [ -n "$group_list" ] && step "make sure trapd is in: $group_list" usermod -a -G "$group_list" trapd
else
  step "create the system user trapd (groups: ${group_list:-none})" \
    useradd --system --home-dir /var/lib/trapd --no-create-home --shell /usr/sbin/nologin \
    ${group_list:+--groups "$group_list"} trapd
fi

if [ -f "$CONFIG_DIR/config.yaml" ]; then
  skip "$CONFIG_DIR/config.yaml kept as it is"
else
  step "install the default config (edit deployment, pins, timezone)" \
    install -D -m 644 "$SOURCE/config.yaml" "$CONFIG_DIR/config.yaml"
fi
step "check the config" "$VENV/bin/trapd" check-config "$CONFIG_DIR/config.yaml"

step "install the systemd unit" install -m 644 "$SOURCE/systemd/trapd.service" "$UNIT"
step "reload systemd" systemctl daemon-reload
step "enable trapd at boot" systemctl enable trapd
if [ "$start" = 1 ]; then
  step "start (or restart) trapd now" systemctl restart trapd
fi
if [ "$dry_run" = 1 ]; then
  echo "dry run: nothing was changed"
else
  echo "done: check it with 'systemctl status trapd' and 'sudo -u trapd $VENV/bin/trapd status --storage /var/lib/trapd'"
fi
