#!/usr/bin/env bash
# The Debian packages the Python tasks' tests use (make test-python): python3 with its venv
# module, and numpy, the third-party package a test's virtualenv imports from Debian's
# site-packages. Installs what is missing (needs root, or sudo), then prints the versions.
set -euo pipefail

say() { echo "python-deps: $*" >&2; }

if ! /usr/bin/python3 -c 'import venv, ensurepip, numpy' 2>/dev/null; then
	say "installing python3, python3-venv and python3-numpy from Debian's packages"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { say "not root and no sudo: install python3-venv and python3-numpy yourself"; exit 1; }
		sudo=sudo
	fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv python3-numpy >/dev/null
fi
/usr/bin/python3 -c 'import sys, numpy; print("python", sys.version.split()[0], "numpy", numpy.__version__)'
