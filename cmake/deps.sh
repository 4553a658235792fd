#!/bin/sh
# Install, with apt-get, the Debian 12 packages glomail needs to build and
# test, and only those missing. Uses sudo when not run as root.
set -eu
pkgs="build-essential cmake pkg-config libevent-dev libsodium-dev
libjansson-dev libcmocka-dev gettext locales libsystemd-dev systemd
clang libclang-rt-14-dev libfuzzer-14-dev valgrind"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing:$missing" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
