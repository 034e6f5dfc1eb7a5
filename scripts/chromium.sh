#!/usr/bin/env bash
# Headless Chromium for the HTML report's browser test (make test-browser): installs Debian's
# chromium package when /usr/bin/chromium is missing, then prints its version. Needs root (or
# sudo) to install; does nothing else when Chromium is there.
set -euo pipefail

say() { echo "chromium: $*" >&2; }

if [ ! -x /usr/bin/chromium ]; then
	say "installing chromium from Debian's packages"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { say "not root and no sudo: install the chromium package yourself"; exit 1; }
		sudo=sudo
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
/usr/bin/chromium --version
