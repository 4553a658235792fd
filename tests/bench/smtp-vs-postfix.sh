#!/bin/sh
# smtp-vs-postfix.sh - glomaild's SMTP listener side by side with Postfix
# delivering to Maildir, on this machine, in the same run, with the same
# load: Postfix's smtp-source, 1 KiB messages, a new connection per message
# and one session per client (-d), at 1 and 10 clients. Both are durable:
# glomaild answers 250 after the Maildir fsyncs; Postfix after fsyncing its
# queue file, and its figure here is end to end (until the last message is
# in the Maildir). Also measured in the same run: smtp-source against
# Postfix's smtp-sink (the protocol alone, the ceiling), the durable-write
# probe (glomail-bench fsync-probe) and an idle SMTP session's RSS.
#
# usage: tests/bench/smtp-vs-postfix.sh [BUILD_DIR]
# environment:
#   SMTP_BENCH_MESSAGES  messages per run (2000)
#   SMTP_BENCH_ROUNDS    rounds of every run, for medians (5)
#   BENCH_TMP            where the scratch directory goes (${TMPDIR:-/var/tmp})
#   BENCH_KEEP           set to keep the scratch directory
#
# It installs nothing. smtp-source and smtp-sink come with Debian's postfix
# package; without them the script stops. Postfix itself runs only when its
# binaries are present, as a private instance: its own configuration, queue
# and Maildir under the scratch directory, on a free loopback port, started and
# stopped with "postfix -c DIR" (as root: Postfix's daemons need it). The
# system's Postfix, its configuration and its service are never touched.
set -eu

build=${1:-build}
glomaild=$build/server/glomaild
bench=$build/tests/bench/glomail-bench
n=${SMTP_BENCH_MESSAGES:-2000}
path=$PATH:/usr/sbin:/sbin
source=$(PATH=$path command -v smtp-source || true)
sink=$(PATH=$path command -v smtp-sink || true)
postfix=$(PATH=$path command -v postfix || true)
for f in "$glomaild" "$bench"; do
	[ -x "$f" ] || { echo "$0: $f not found; build first" >&2; exit 2; }
done
if [ -z "$source" ] || [ -z "$sink" ]; then
	echo "$0: smtp-source and smtp-sink not found (Debian: apt-get install" \
	    "postfix, see cmake/deps.sh)" >&2
	exit 2
fi

dir=$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/var/tmp}}/glomail-smtpbench.XXXXXX")
gpid= spid= pf=
# Under set -e, a killed child's status from wait would end the trap before
# Postfix is stopped: every step here ignores its status.
cleanup() {
	if [ -n "$gpid" ]; then
		kill "$gpid" 2>/dev/null || true
		wait "$gpid" 2>/dev/null || true
	fi
	if [ -n "$spid" ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
	fi
	if [ -n "$pf" ]; then
		"$postfix" -c "$pf/etc" stop >/dev/null 2>&1 || true
		# Its master, by the pid it wrote, if it outlived the stop.
		mpid=$(cat "$pf/queue/pid/master.pid" 2>/dev/null | tr -d ' ')
		i=0
		while [ -n "$mpid" ] && kill -0 "$mpid" 2>/dev/null &&
		    [ $i -lt 50 ]; do
			i=$((i + 1)); sleep 0.1
		done
		[ -z "$mpid" ] || kill "$mpid" 2>/dev/null || true
	fi
	[ -n "${BENCH_KEEP-}" ] && echo "kept $dir" >&2 || rm -rf "$dir"
}
trap cleanup EXIT INT TERM

now() { date +%s.%N; }
rate() { echo "$1 $2 $3" | awk '{ d = $3 - $2; printf "%.0f", (d > 0 ? $1 / d : 0) }'; }
count() { find "$1" -type f 2>/dev/null | wc -l; }

# glomaild on a free port, with one account.
"$glomaild" --listen 127.0.0.1:0 --smtp-listen 127.0.0.1:0 \
    --data-dir "$dir/glomail" 2>"$dir/glomaild.log" &
gpid=$!
i=0
until grep -q ' started listen=' "$dir/glomaild.log" 2>/dev/null; do
	i=$((i + 1)); [ $i -lt 500 ] || { cat "$dir/glomaild.log"; exit 1; }
	sleep 0.02
done
gport=$(sed -n 's/.*listening for smtp on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
    "$dir/glomaild.log" | head -n 1)
jport=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
    "$dir/glomaild.log" | head -n 1)
GLOMAIL_PASSWORD=Bench0Password "$build/client/glomail" -d 127.0.0.1 \
    -p "$jport" -u bob register >/dev/null

# An idle session's RSS, first (later runs leave freed memory to reuse):
# 500 sessions opened and greeted, the server's RSS before and after.
rss() { awk '/VmRSS/ { print $2 }' /proc/"$gpid"/status; }
r0=$(rss)
python3 - "$gport" <<'EOF' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for _ in range(500):
    s = socket.create_connection(("127.0.0.1", port))
    s.recv(100)
    s.sendall(b"EHLO idle.test\r\n")
    socks.append(s)
for s in socks:
    s.recv(1000)
time.sleep(3)
EOF
ipid=$!
sleep 2
r1=$(rss)
wait $ipid
idle=$(echo "$r0 $r1" | awk '{ printf "%.1f", ($2 - $1) / 500 }')

# smtp-sink: the protocol alone.
sport=$(( 20000 + $$ % 20000 ))
pport=$(( sport + 1 ))
sinkuser=
[ "$(id -u)" -ne 0 ] || sinkuser="-u nobody"
# shellcheck disable=SC2086
"$sink" $sinkuser 127.0.0.1:$sport 256 >/dev/null 2>&1 &
spid=$!

# A private Postfix: virtual(8) delivery to a Maildir, fsync'd.
if [ -n "$postfix" ] && [ "$(id -u)" -eq 0 ] && id postfix >/dev/null 2>&1
then
	pf=$dir/postfix
	mkdir -p "$pf/etc" "$pf/queue" "$pf/data" "$pf/mail"
	chown postfix "$pf/data"
	chown nobody "$pf/mail"
	chmod 755 "$dir"
	cat >"$pf/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $pf/queue
data_directory = $pf/data
command_directory = /usr/sbin
daemon_directory = /usr/lib/postfix/sbin
meta_directory = /etc/postfix
shlib_directory = /usr/lib/postfix
mail_owner = postfix
setgid_group = postdrop
myhostname = bench.glo2000.ca
mydomain = glo2000.ca
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination
virtual_mailbox_domains = glo2000.ca
virtual_mailbox_base = $pf/mail
virtual_mailbox_maps = inline:{ bob@glo2000.ca=bob/ }
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(id -g nobody)
virtual_minimum_uid = 100
virtual_destination_concurrency_limit = 20
alias_maps =
alias_database =
maillog_file = $pf/maillog
smtputf8_enable = no
biff = no
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
EOF
	# Debian's master.cf, without chroot, smtpd on 127.0.0.1:2525.
	awk '/^smtp[ \t]+inet/ { print "127.0.0.1:'"$pport"' inet n - n - - smtpd";
	    next }
	    /^[a-z]/ && NF >= 8 { $5 = "n" } { print }' /etc/postfix/master.cf \
	    >"$pf/etc/master.cf"
	if ss -ltn 2>/dev/null | grep -q "127.0.0.1:$pport "; then
		echo "port $pport is taken: Postfix not run" >&2
		pf=
	elif ! "$postfix" -c "$pf/etc" start >"$pf/start.log" 2>&1; then
		echo "private Postfix did not start:" >&2
		cat "$pf/start.log" "$pf/maillog" >&2 2>/dev/null || true
		pf=
	fi
	sleep 1
else
	echo "Postfix not run (needs its binaries and root): glomaild only" >&2
fi

# One smtp-source run; prints messages/s, end to end: until the last one is
# in the Maildir (when given). The rate counts the messages that arrived,
# over the time until the last one did: a server that accepts fewer than
# smtp-source sent is not credited for the others.
run() { # port conc persistent maildir
	before=$( [ -n "$4" ] && count "$4" || echo 0 )
	t0=$(now)
	# shellcheck disable=SC2086
	"$source" $3 -s "$2" -m "$n" -l 1024 -f alice@glo2000.ca \
	    -t bob@glo2000.ca -M client.test 127.0.0.1:$1 >/dev/null 2>&1 ||
	    { echo 0; return; }
	t1=$(now)
	got=$n
	if [ -n "$4" ]; then
		last=-1 still=0
		while :; do
			got=$(( $(count "$4") - before ))
			[ "$got" -lt "$n" ] || { t1=$(now); break; }
			if [ "$got" -ne "$last" ]; then
				last=$got still=0 t1=$(now)
			else
				still=$((still + 1))
				[ $still -lt 300 ] || break # 3 s without news
			fi
			sleep 0.01
		done
		[ "$got" -eq "$n" ] || echo "port $1 c=$2 $3: $got of $n arrived" >&2
	fi
	rate "$got" "$t0" "$t1"
}

probe() {
	"$bench" --data-dir "$dir" --json fsync-probe 2>/dev/null |
	    sed -n 's/.*"phase": "1-writer".*"ops_per_s": \([0-9.]*\).*/\1/p' |
	    head -n 1
}

# Rounds, each measuring every configuration of both servers back to back
# with a probe first, since the disk's speed drifts by a factor of 4 within
# minutes: a ratio compares figures of one round; the table shows medians.
median() {
	printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
	    END { if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2];
	          else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
ratio() { echo "$1 $2" | awk '{ printf "%.2f", ($2 > 0 ? $1 / $2 : 0) }'; }
rounds=${SMTP_BENCH_ROUNDS:-5}
P= G1= K1= G10= K10= G10D= K10D= F1= F10= F10D= R10= RP= C1= CE=
r=0
while [ $r -lt "$rounds" ]; do
	r=$((r + 1))
	p=$(probe)
	g1=$(run "$gport" 1 "" "$dir/glomail/bob/new")
	k1=$(run $sport 1 "" "")
	g10=$(run "$gport" 10 "" "$dir/glomail/bob/new")
	k10=$(run $sport 10 "" "")
	g10d=$(run "$gport" 10 -d "$dir/glomail/bob/new")
	k10d=$(run $sport 10 -d "")
	if [ -n "$pf" ]; then
		f1=$(run $pport 1 "" "$pf/mail/bob/new")
		f10=$(run $pport 10 "" "$pf/mail/bob/new")
		f10d=$(run $pport 10 -d "$pf/mail/bob/new")
	else
		f1=0 f10=0 f10d=0
	fi
	ceil=$(echo "$k1 $p" | awk '{ printf "%.0f", 1 / (1 / $1 + 1 / $2) }')
	echo "# round $r: probe $p/s; c=1 glomaild $g1 sink $k1 Postfix $f1;" \
	    "c=10 glomaild $g10 sink $k10 Postfix $f10;" \
	    "c=10 -d glomaild $g10d sink $k10d Postfix $f10d"
	P="$P $p" G1="$G1 $g1" K1="$K1 $k1" G10="$G10 $g10" K10="$K10 $k10"
	G10D="$G10D $g10d" K10D="$K10D $k10d" F1="$F1 $f1" F10="$F10 $f10"
	F10D="$F10D $f10d" CE="$CE $ceil"
	R10="$R10 $(ratio "$g10" "$f10")" RP="$RP $(ratio "$g10" "$p")"
	C1="$C1 $(ratio "$g1" "$ceil")"
done
# shellcheck disable=SC2086 # the lists are numbers
{
	probe=$(median $P) g1=$(median $G1) k1=$(median $K1)
	g10=$(median $G10) k10=$(median $K10) g10d=$(median $G10D)
	k10d=$(median $K10D) f1=$(median $F1) f10=$(median $F10)
	f10d=$(median $F10D) ceil1=$(median $CE)
	r10=$(median $R10) rp=$(median $RP) c1=$(median $C1)
}
[ -n "$pf" ] || f1=- f10=- f10d=-
echo
verdict() { awk "BEGIN { print ($1) ? \"met\" : \"not met\" }"; }
echo "| target | goal | glomaild | Postfix 3.7 (same rounds) | reference (same rounds) | verdict |"
echo "|---|---|---|---|---|---|"
if [ -n "$pf" ]; then
	v10=$(verdict "$r10 >= 3")" (${r10}x Postfix); >= probe: "$(verdict "$rp >= 1")" (${rp}x)"
else
	v10="no Postfix; >= probe: "$(verdict "$rp >= 1")" (${rp}x)"
fi
echo "| c=10, new connection each | >= 3x Postfix and >= probe | $g10/s | $f10/s | probe $probe/s, sink $k10/s | $v10 |"
echo "| c=10, one session each (-d) | (shown) | $g10d/s | $f10d/s | sink $k10d/s | - |"
echo "| c=1, new connection each | >= 0.8 x 1/(1/sink + 1/probe) | $g1/s | $f1/s | sink $k1/s, probe $probe/s: ceiling $ceil1/s | $(verdict "$c1 >= 0.8") (${c1}) |"
echo "| idle SMTP session | <= 10 KiB RSS | $idle KiB | | 500 sessions after EHLO | $(verdict "$idle <= 10") |"
echo
echo "medians of $rounds rounds (ratios: medians of each round's ratio);" \
    "messages per run: $n, 1024-byte bodies; every message counted in its Maildir"
