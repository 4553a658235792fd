#!/bin/sh
# Install, with apt-get, the Debian 12 packages glomail needs to build and
# test, and only those missing, then the French locale the client's tests
# use. Uses sudo when not run as root. file and dpkg-dev are what
# "cpack -G DEB" runs (file, dpkg-shlibdeps); lintian checks the package;
# clang-format checks the layout.
set -eu
pkgs="build-essential cmake pkg-config libevent-dev libsodium-dev
libjansson-dev libcmocka-dev gettext locales libsystemd-dev systemd
man-db
clang libclang-rt-14-dev libfuzzer-14-dev valgrind python3
libssl-dev openssl gnutls-bin file dpkg-dev lintian clang-format
swaks msmtp mutt postfix haproxy dovecot-imapd"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if [ -n "$missing" ]; then
	echo "installing:$missing" >&2
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
fi

# The client's French texts are tested under fr_CA.UTF-8, which a fresh
# Debian system does not have: build it once (locale -a spells it fr_CA.utf8).
if ! locale -a 2>/dev/null | grep -qix 'fr_CA\.utf-\?8'; then
	echo "creating the fr_CA.UTF-8 locale" >&2
	$sudo localedef -i fr_CA -f UTF-8 fr_CA.UTF-8 >&2 ||
		echo "warning: no fr_CA.UTF-8 locale; the French tests will be skipped" >&2
fi
