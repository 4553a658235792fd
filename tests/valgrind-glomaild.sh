#!/bin/sh
# Stand-in for glomaild that runs the real one under valgrind memcheck, for
# the integration tests (they start whatever $GLOMAILD names):
#
#   GLOMAILD=tests/valgrind-glomaild.sh GLOMAILD_REAL=build/server/glomaild \
#   GLOMAIL_VALGRIND_DIR=build/valgrind ctest --test-dir build -R test_hostile
#
# Each server writes its report to $GLOMAIL_VALGRIND_DIR/vg.<pid>.log; with
# --quiet a report is empty unless memcheck found an error or a leak, so the
# caller fails when any report is not empty (a server stopped with SIGKILL
# reports no leaks, one stopped with SIGTERM does).
set -eu
: "${GLOMAILD_REAL:?the glomaild binary to run}"
: "${GLOMAIL_VALGRIND_DIR:?a directory for the reports}"
mkdir -p "$GLOMAIL_VALGRIND_DIR"
exec valgrind --quiet --leak-check=full \
	--show-leak-kinds=definite,indirect \
	--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
	--log-file="$GLOMAIL_VALGRIND_DIR/vg.%p.log" "$GLOMAILD_REAL" "$@"
