#!/usr/bin/env bash
# Switch off what a camera trap in the field does not need; tools/install-pi.sh --low-power runs it.
#
#   sudo tools/install-pi.sh --low-power            # apply (safe to run again: it changes nothing twice)
#   tools/install-pi.sh --low-power --dry-run       # each step and its published saving, nothing changed
#   sudo tools/install-pi.sh --undo-low-power       # put back what it changed
#
# Everything it writes to config.txt sits between two marker lines, and every word it adds to
# cmdline.txt is its own, so undo removes exactly what it added. Services it disables are listed
# in /var/lib/trapd/low-power-services, and undo enables those again. Savings are the published
# figures the README cites (section "Power"); a step with no published figure says so. Reboot to
# apply. You lose Wi-Fi, Bluetooth and HDMI: set the trap up before, or undo over a serial console.
set -euo pipefail

BOOT=${TRAPD_BOOT_DIR:-/boot/firmware}        # the tests point these at fakes
SYSTEMCTL=${TRAPD_SYSTEMCTL:-systemctl}
STATE=${TRAPD_LOW_POWER_STATE:-/var/lib/trapd/low-power-services}
CONFIG_TXT=$BOOT/config.txt
CMDLINE_TXT=$BOOT/cmdline.txt
BEGIN="# >>> trapd low-power (tools/install-pi.sh --low-power; --undo-low-power removes it)"
END="# <<< trapd low-power"
# config.txt lines, each with the saving the README cites.
CONFIG_LINES=(
  "dtoverlay=disable-wifi|Wi-Fi off: 40 mA at 5 V on a Zero 2 W (0.13 -> 0.09 A, OTCamera issue 70)"
  "dtoverlay=disable-bt|Bluetooth off: no measurable change on a Zero 2 W (same source); one radio fewer in the field"
  "dtparam=act_led_trigger=none|activity LED: never blinks (5 mA per LED, Geerling 2015)"
  "dtparam=act_led_activelow=off|activity LED: held dark"
  "dtparam=pwr_led_trigger=none|power LED: off (5 mA per LED, Geerling 2015)"
  "dtparam=pwr_led_activelow=off|power LED: held dark"
)
# cmdline.txt words.
CMDLINE_WORDS=(
  "video=HDMI-A-1:d|HDMI output off where the KMS driver allows it: 25 mA (Pi Zero, Geerling 2015); the official budget for the port is 50 mA"
  "cpufreq.default_governor=powersave|CPU governor powersave: no published saving; idle draw does not change with the clock (Geerling 2023, Pi 5), and detection per frame takes longer"
)
# Services a headless trap does not use (disabled only where present and enabled).
SERVICES=(bluetooth.service hciuart.service avahi-daemon.service triggerhappy.service ModemManager.service)

mode=apply
dry_run=0
for argument in "$@"; do
  case "$argument" in
    --dry-run) dry_run=1 ;;
    --undo) mode=undo ;;
    *) echo "low-power.sh: unknown option $argument (use --dry-run, --undo)" >&2; exit 64 ;;
  esac
done
if [ "$dry_run" = 0 ] && [ -z "${TRAPD_BOOT_DIR:-}" ] && [ "$(id -u)" != 0 ]; then
  echo "low-power.sh: run as root (sudo tools/install-pi.sh --low-power), or with --dry-run" >&2
  exit 77
fi
for file in "$CONFIG_TXT" "$CMDLINE_TXT"; do
  [ -f "$file" ] || { echo "low-power.sh: $file not found; is this Raspberry Pi OS (Bookworm or later)?" >&2; exit 66; }
done

changed=0
act() {  # act "what, and its saving" command...: do it, or in a dry run say so
  changed=1
  if [ "$dry_run" = 1 ]; then printf 'would: %s\n' "$1"; else printf '==> %s\n' "$1"; "${@:2}"; fi
}
ok() { printf 'ok:    %s\n' "$1"; }

block() {  # the marked block config.txt should hold; [all]: whatever conditional section the file ended in
  printf '%s\n[all]\n' "$BEGIN"
  for entry in "${CONFIG_LINES[@]}"; do printf '%s\n' "${entry%%|*}"; done
  printf '%s\n' "$END"
}
without_block() { awk -v b="$BEGIN" -v e="$END" '$0 == b {skip = 1; next} $0 == e {skip = 0; next} !skip' "$1"; }
replace_file() {  # replace_file FILE CONTENT: atomically and durably (a boot partition torn by a power cut
  local tmp="$1.trapd-tmp"           # would not boot), keeping the file's mode
  printf '%s' "$2" > "$tmp" && chmod --reference="$1" "$tmp" && sync "$tmp" && mv "$tmp" "$1" && sync "$(dirname "$1")"
}

if [ "$mode" = apply ]; then
  if grep -qxF "$BEGIN" "$CONFIG_TXT" && [ "$(awk -v b="$BEGIN" -v e="$END" '$0 == b {on = 1} on {print} $0 == e {on = 0}' "$CONFIG_TXT")" = "$(block)" ]; then
    ok "config.txt holds the low-power block"
  else
    for entry in "${CONFIG_LINES[@]}"; do printf '       config.txt: %-32s %s\n' "${entry%%|*}" "${entry#*|}"; done
    act "write the low-power block into $CONFIG_TXT" replace_file "$CONFIG_TXT" "$(without_block "$CONFIG_TXT")
$(block)
"
  fi
  for entry in "${CMDLINE_WORDS[@]}"; do
    word=${entry%%|*}
    if tr ' ' '\n' < "$CMDLINE_TXT" | grep -qxF "$word"; then
      ok "cmdline.txt has $word"
    else
      act "cmdline.txt: add $word (${entry#*|})" replace_file "$CMDLINE_TXT" "$(tr -d '\n' < "$CMDLINE_TXT") $word
"
    fi
  done
  for service in "${SERVICES[@]}"; do
    if [ "$("$SYSTEMCTL" is-enabled "$service" 2>/dev/null || true)" = enabled ]; then
      act "disable $service (not used by a headless trap; no published saving: fewer wake-ups)" \
        sh -c "\"$SYSTEMCTL\" disable --now \"$service\" >/dev/null && mkdir -p \"$(dirname "$STATE")\" && echo \"$service\" >> \"$STATE\""
    else
      ok "$service is not enabled"
    fi
  done
else
  if grep -qxF "$BEGIN" "$CONFIG_TXT"; then
    act "remove the low-power block from $CONFIG_TXT" replace_file "$CONFIG_TXT" "$(without_block "$CONFIG_TXT")
"
  else
    ok "config.txt has no low-power block"
  fi
  for entry in "${CMDLINE_WORDS[@]}"; do
    word=${entry%%|*}
    if tr ' ' '\n' < "$CMDLINE_TXT" | grep -qxF "$word"; then
      act "cmdline.txt: remove $word" replace_file "$CMDLINE_TXT" "$(tr -d '\n' < "$CMDLINE_TXT" | tr ' ' '\n' | grep -vxF "$word" | paste -sd ' ')
"
    else
      ok "cmdline.txt has no $word"
    fi
  done
  if [ -s "$STATE" ]; then
    while read -r service; do
      act "enable $service again" "$SYSTEMCTL" enable --now "$service"
    done < "$STATE"
    act "forget the list of disabled services" rm -f "$STATE"
  else
    ok "no service was disabled by trapd"
  fi
fi
if [ "$dry_run" = 1 ]; then
  echo "dry run: nothing was changed"
elif [ "$changed" = 1 ]; then
  echo "done: reboot for config.txt and cmdline.txt to take effect"
else
  echo "nothing to change"
fi
