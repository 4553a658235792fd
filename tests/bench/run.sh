#!/bin/sh
# run.sh - start a scratch glomaild on loopback, run every glomail-bench
# scenario against it and print the performance targets, all in one run so
# that every ratio compares figures measured on the same machine together.
#
# The server also listens with TLS, on a throwaway certificate (ECDSA P-256,
# made by tests/tls/mkcerts.sh with the openssl command), for the TLS
# scenarios; BENCH_NO_TLS=1 leaves TLS out.
#
# usage: tests/bench/run.sh [BUILD_DIR] [glomail-bench options...]
#   BUILD_DIR defaults to ./build. Extra options go to glomail-bench
#   (e.g. --json, --duration 3, --conns 5000).
# environment:
#   BENCH_TIMEOUT  seconds allowed for each glomail-bench step (1200)
#   BENCH_TMP      where the scratch directory goes (${TMPDIR:-/var/tmp});
#                  the store and the fsync probe share its filesystem
#   BENCH_KEEP     set to keep the scratch directory (data and server logs)
#   BENCH_DROP_CACHES  set (as root) to drop the page cache before the
#                  cold list, so "cold" includes the disk
#
# The big mailbox is filled first, then the server is restarted on the same
# port and data, so the bigbox "cold" list is the first one the server
# process serves for that mailbox.
set -eu

build=build
case ${1-} in
-*|'') ;;
*) build=$1; shift ;;
esac
glomaild=$build/server/glomaild
bench=$build/tests/bench/glomail-bench
limit=${BENCH_TIMEOUT:-1200}
for f in "$glomaild" "$bench"; do
	if [ ! -x "$f" ]; then
		echo "run.sh: $f not found; build first (cmake --build $build)" >&2
		exit 2
	fi
done

dir=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/var/tmp}}/glomail-bench.XXXXXX")
pid=
port=0
tls_port=
starts=0
here=$(dirname "$0")

stop_server() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
		pid=
	fi
}

cleanup() {
	stop_server
	if [ -n "${BENCH_KEEP-}" ]; then
		echo "run.sh: kept $dir" >&2
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The port of the log's first "listening on 127.0.0.1:PORT" line, plaintext
# (tls unset) or TLS (tls set).
bound_port() {
	if [ -n "${2-}" ]; then
		sed -n 's/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\) tls$/\1/p' "$1"
	else
		sed -n '/ tls$/d; s/.*listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$1"
	fi | head -n 1
}

# Start glomaild on 127.0.0.1:$port (and with TLS on 127.0.0.1:$tls_port)
# and wait (20 s at most) for its addresses.
start_server() {
	starts=$((starts + 1))
	log=$dir/server-$starts.log
	if [ -n "$certs" ]; then
		"$glomaild" --listen "127.0.0.1:$port" \
		    --tls-listen "127.0.0.1:${tls_port:-0}" \
		    --tls-cert "$certs/server.crt" --tls-key "$certs/server.key" \
		    --data-dir "$dir/data" 2>"$log" &
	else
		"$glomaild" --listen "127.0.0.1:$port" --data-dir "$dir/data" \
		    2>"$log" &
	fi
	pid=$!
	i=0
	while [ $i -lt 200 ]; do
		bound= tbound=
		if [ -f "$log" ]; then
			bound=$(bound_port "$log")
			tbound=$(bound_port "$log" tls)
		fi
		if [ -n "$bound" ] && { [ -z "$certs" ] || [ -n "$tbound" ]; }; then
			port=$bound
			tls_port=$tbound
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			break
		fi
		sleep 0.1
		i=$((i + 1))
	done
	echo "run.sh: glomaild did not start; its log:" >&2
	cat "$log" >&2
	exit 1
}

# Idle holds thousands of connections: give both processes the hard limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

certs=
tls_opts=
if [ -z "${BENCH_NO_TLS-}" ]; then
	certs=$dir/certs
	sh "$here/../tls/mkcerts.sh" "$certs"
fi

start_server
if [ -n "$certs" ]; then
	tls_opts="--tls-port $tls_port --cafile $certs/ca.crt"
	echo "# TLS on 127.0.0.1:$tls_port (ECDSA P-256 certificate for localhost)"
fi
echo "# glomaild pid $pid on 127.0.0.1:$port, data in $dir/data"
echo "# filling the big mailbox"
timeout "$limit" "$bench" --port "$port" "$@" bigbox --fill-only

stop_server
start_server
if [ -n "${BENCH_DROP_CACHES-}" ]; then
	sync
	echo 3 >/proc/sys/vm/drop_caches
fi
echo "# glomaild restarted (pid $pid); every scenario"
# shellcheck disable=SC2086 # tls_opts: options, no spaces in the paths made here
timeout "$limit" "$bench" --port "$port" $tls_opts --pid "$pid" \
    --data-dir "$dir" "$@" run-all
