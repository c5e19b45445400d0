#!/usr/bin/env bash
# LOKI set-up on Debian/Ubuntu: system packages, a virtualenv with LOKI and its embedded models.
#
#   bash scripts/setup.sh run    install what is missing, then start LOKI on the embedded defaults
#   bash scripts/setup.sh test   install what is missing (plus the test tools), then run the tests
#   bash scripts/setup.sh lock   re-resolve the newest versions and rewrite constraints.txt (then run `test`)
#
# Safe to run again: installed packages are skipped; Python packages are installed at the versions pinned
# in constraints.txt, again whenever it or pyproject.toml changes. Extra arguments after `run` go to
# `loki run`, after `test` to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

mode="${1:-run}"; shift || true
case "$mode" in run|test|install|lock) ;; *) echo "usage: bash scripts/setup.sh run|test|install|lock [args]" >&2; exit 2 ;; esac

# Runtime: PortAudio (+ ALSA's PulseAudio plugin) for sounddevice, xdotool/wmctrl/x11-utils for
# windows, espeak-ng for Russian replies without a Russian Piper voice, AT-SPI and Tesseract (Russian text)
# for the screen tier, a compiler for llama-cpp-python.
packages=(libportaudio2 libasound2-plugins pulseaudio-utils xdotool wmctrl x11-utils espeak-ng at-spi2-core tesseract-ocr tesseract-ocr-rus
          build-essential cmake python3-venv python3-dev)
# Tests: a real X server and window manager, real apps (xterm, Tk), a real audio server, sox.
if [ "$mode" = test ]; then
  packages+=(xvfb openbox xterm pulseaudio sox python3-tk tk festival festvox-ru)
  # Tier 2: a D-Bus session with AT-SPI, real GTK apps to click in, Tesseract for Russian text on the screen.
  packages+=(dbus-x11 at-spi2-core zenity yad mousepad gtk-3-examples gnome-calculator libgtk-4-bin
             tesseract-ocr tesseract-ocr-eng tesseract-ocr-rus)
fi
# Tests: systemd-analyze checks the generated user unit. Safe in a container: without systemd as PID 1
# (no /run/systemd/system) the package's scripts start and restart nothing, and it does not replace init.
if [ "$mode" = test ]; then
  packages+=(systemd)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if ! command -v apt-get >/dev/null; then
    echo "setup: please install these with your package manager: ${missing[*]}" >&2
    exit 1
  fi
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing system packages: ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: LOKI needs Python 3.11 or newer ($python is $("$python" --version 2>&1)); set PYTHON=python3.11" >&2
  exit 1
fi

if [ "$mode" = lock ]; then
  # What pip resolves today with nothing pinned, in a fresh venv: resolved only (--dry-run), nothing is built.
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  echo "setup: resolving the newest versions of LOKI's dependencies (about 2 minutes)" >&2
  "$python" -m venv "$tmp/venv"
  "$tmp/venv/bin/python" -m pip install -q --upgrade pip packaging >&2
  "$tmp/venv/bin/python" -m pip install -q --dry-run --ignore-installed --report "$tmp/report.json" \
    -e '.[models,dev]' >&2
  "$tmp/venv/bin/python" scripts/lock.py "$tmp/report.json" >"$tmp/constraints.txt"
  mv "$tmp/constraints.txt" constraints.txt
  echo "setup: wrote constraints.txt; 'bash scripts/setup.sh test' installs those versions and runs the tests" >&2
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
# Installed again when the pinned versions or the dependencies change (the stamp holds their checksums).
stamp=.venv/.loki-installed
wanted="$(sha256sum pyproject.toml constraints.txt)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "setup: installing LOKI and its embedded models into .venv (llama-cpp-python compiles once, ~7 min on 2 cores)" >&2
  .venv/bin/python -m pip install -q --upgrade pip >&2
  # Not quiet: the downloads (~1 GB) and the compile take minutes, and pip's progress shows they move.
  .venv/bin/python -m pip install -c constraints.txt -e '.[models,dev]' >&2
  printf '%s\n' "$wanted" >"$stamp"
fi

case "$mode" in
  run) exec .venv/bin/loki run "$@" ;;
  test) exec .venv/bin/python -m pytest "$@" ;;
  install) echo "setup: done; start LOKI with .venv/bin/loki run" >&2 ;;
esac
