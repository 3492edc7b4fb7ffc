#!/usr/bin/env bash
# Install trapd as a service on Raspberry Pi OS (Bookworm or later). Run from a trapd checkout:
#
#   sudo tools/install-pi.sh            # install or update; safe to run again
#   tools/install-pi.sh --dry-run       # print every step, change nothing
#   sudo tools/install-pi.sh --start    # also start the service now
#   sudo tools/install-pi.sh --model ssd-mobilenet-v1-coco     # fetch a shipped card's model (needs internet)
#   sudo tools/install-pi.sh --model /media/usb/m.tflite       # or install one from a file (its card beside it)
#   sudo tools/install-pi.sh --low-power      # only: Wi-Fi, Bluetooth, LEDs, HDMI, governor, services off
#   sudo tools/install-pi.sh --undo-low-power # only: put them back (see tools/low-power.sh)
#
# Steps: apt packages (picamera2 and the lgpio pin factory come from apt on Pi OS), a venv that
# sees them (--system-site-packages), trapd installed into it, the `trapd` system user in the
# gpio and video groups, /etc/trapd/config.yaml (never overwritten), the systemd unit, enabled, and
# with --model a detector model in /var/lib/trapd/models. It ends by saying whether the trap will
# filter, or run fail-open (keep every frame) for want of its model.
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
model=""
low_power=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --start) start=1 ;;
    --model)
      [ $# -ge 2 ] || { echo "install-pi.sh: --model needs a shipped card's name or a .tflite file" >&2; exit 64; }
      model=$2; shift ;;
    --low-power) low_power=apply ;;
    --undo-low-power) low_power=undo ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install-pi.sh: unknown option $1 (use --dry-run, --start, --model NAME|FILE, --low-power," \
            "--undo-low-power)" >&2; exit 64 ;;
  esac
  shift
done

if [ -n "$low_power" ]; then  # its own job: tools/low-power.sh
  options=()
  [ "$dry_run" = 1 ] && options+=(--dry-run)
  [ "$low_power" = undo ] && options+=(--undo)
  exec bash "$(dirname "$0")/low-power.sh" "${options[@]}"
fi

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

if [ -n "$model" ]; then
  if [ -f "$model" ]; then
    step "install the model $model (with its labels and card beside it)" \
      "$VENV/bin/trapd" models install "$model" --dir /var/lib/trapd/models
  else
    step "fetch and install the model $model (checked against its card's sha256)" \
      "$VENV/bin/trapd" models fetch "$model" --dir /var/lib/trapd/models
  fi
  step "let the service read it" chown -R trapd:trapd /var/lib/trapd/models
fi

step "install the systemd unit" install -m 644 "$SOURCE/systemd/trapd.service" "$UNIT"
step "reload systemd" systemctl daemon-reload
step "enable trapd at boot" systemctl enable trapd
if [ "$start" = 1 ]; then
  step "start (or restart) trapd now" systemctl restart trapd
fi
# Will it filter? The model the config's detector section names must be on the service's search path.
detector_model() {  # the `model:` under `detector:` (not camera.model), or nothing
  awk '/^detector:/ {inside = 1; next} /^[^[:space:]#]/ {inside = 0}
       inside && /^[[:space:]]+model:/ {print $2; exit}' "$1" 2>/dev/null
}
wanted=$(detector_model "$SOURCE/config.yaml")
if [ -f "$CONFIG_DIR/config.yaml" ]; then
  configured=$(detector_model "$CONFIG_DIR/config.yaml")
  wanted=${configured:-$wanted}
fi
if [ -n "$model" ] && [ "$model" = "$wanted" ]; then
  echo "model: $wanted installed; the trap will filter empty frames"
elif [ -n "$model" ] && [ -f "$model" ]; then
  echo "model: $model installed; the trap filters if its card is named $wanted (detector.model), else it runs" \
       "fail-open: check with 'trapd models list' and set detector.model in $CONFIG_DIR/config.yaml"
elif [ -n "$model" ]; then
  echo "model: $model installed, but the config names $wanted: set detector.model: $model in" \
       "$CONFIG_DIR/config.yaml, or the trap runs fail-open (keeps every frame)"
elif ls /var/lib/trapd/models/*.card.yaml 2>/dev/null | grep -q "/${wanted}.card.yaml$"; then
  echo "model: $wanted is installed; the trap will filter empty frames"
else
  echo "model: $wanted is NOT installed; the trap will run fail-open (keep every frame, marked unfiltered)." \
       "Run again with --model $wanted (needs internet) or --model FILE.tflite from a USB stick"
fi
if [ "$dry_run" = 1 ]; then
  echo "dry run: nothing was changed"
else
  echo "done: check it with 'systemctl status trapd' and 'sudo -u trapd $VENV/bin/trapd status --storage /var/lib/trapd'"
fi
