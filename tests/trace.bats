#!/usr/bin/env bats
# The trace log (MADVISE_SHIM_LOG) and exit statistics (MADVISE_SHIM_STATS):
# the content of every line and table, against the calls a program made.

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	SCEN="$TEST_PROGS_DIR/madvise-scenario"
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# A whole trace line, field by field.
LINE='^madvise-shim t=[0-9]+\.[0-9]{6} pid=[0-9]+ tid=[0-9]+ call=[a-z_]+ advice=[A-Z_a-z0-9()-]+ (addr=0x[0-9a-f]+ len|fd=-?[0-9]+ len|addr=-?[0-9]+ vlen)=[0-9]+( map=[^ ]+)? kernel=[^ ]+ action=[a-z: -]+ result=-?[0-9]+ errno=[A-Z0-9]+ caller=[^ ]+$'

# assert_whole_lines: every line on stdin matches LINE.  A plain
# "! grep -v" fails nothing unless it is a test's last command (set -e
# ignores a negated pipeline), so this fails explicitly, naming the torn lines.
assert_whole_lines() {
	local torn
	torn=$(grep -vE "$LINE") || true
	if [[ -n $torn ]]; then
		printf 'not a whole trace line: %s\n' "${torn:0:2000}" >&2
		return 1
	fi
}

# under_sim [SIM OPTIONS --] ENV... PROGRAM ARGS: the program under the
# simulator with the shim preloaded.
shim_sim() {
	"$MADVISE_SIM" "$@"
}

@test "trace to stderr: one whole line per call, first ENOSYS then known" {
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr \
		"$SCEN" repeat dontneed 100
	assert_success
	local lines
	lines=$(grep -c '^madvise-shim ' <<<"$stderr")
	[ "$lines" -eq 100 ]
	# every line is whole
	grep '^madvise-shim ' <<<"$stderr" | assert_whole_lines
	# the first call met the missing syscall, the others knew
	local first
	first=$(grep -m1 '^madvise-shim ' <<<"$stderr")
	[[ $first == *" call=madvise advice=DONTNEED "* ]]
	[[ $first == *" map=anon kernel=ENOSYS action=emulated:mremap result=0 errno=0 caller=madvise-scenario"* ]]
	[ "$(grep -c ' kernel=ENOSYS(known) action=emulated:mremap result=0 ' <<<"$stderr")" -eq 99 ]
}

@test "trace on the native kernel: the kernel's own answer, action native" {
	run --separate-stderr env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr \
		"$SCEN" repeat dontneed 5
	assert_success
	[ "$(grep -c ' advice=DONTNEED .* kernel=0 action=native result=0 errno=0 ' <<<"$stderr")" -eq 5 ]
}

@test "trace: errors are shown with the kernel's errno name" {
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr \
		"$SCEN" errno-kept
	assert_success
	grep -qE ' advice=DONTNEED addr=0x[0-9a-f]*[1-9a-f] len=[0-9]+ .* result=-1 errno=EINVAL ' <<<"$stderr"
	grep -qE ' advice=unknown\(99\) .* action=emulated:unknown-advice result=-1 errno=EINVAL ' <<<"$stderr"
	grep -qE ' advice=DONTNEED .* map=unmapped .* result=-1 errno=ENOMEM ' <<<"$stderr"
}

@test "trace: every entry point is named" {
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr "$SCEN" raw-syscall
	assert_success
	grep -qE "$LINE" <<<"$stderr"
	grep -q ' call=syscall advice=DONTNEED .* action=emulated:mremap result=0 ' <<<"$stderr"
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr "$SCEN" posix-madvise
	assert_success
	grep -q ' call=posix_madvise advice=WILLNEED ' <<<"$stderr"
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr "$SCEN" fadvise
	assert_success
	grep -qE ' call=posix_fadvise advice=WILLNEED fd=[0-9]+ .* action=emulated:readahead result=0 ' <<<"$stderr"
	grep -qE ' call=posix_fadvise advice=[A-Z]+ fd=-?[0-9]+ .* result=-1 errno=EBADF ' <<<"$stderr"
	grep -qE ' call=posix_fadvise advice=[A-Z]+ fd=[0-9]+ .* result=-1 errno=ESPIPE ' <<<"$stderr"
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG=stderr "$SCEN" process-madvise
	assert_success
	grep -qE ' call=process_madvise advice=COLD addr=[0-9]+ vlen=2 kernel=ENOSYS action=emulated:own-process result=[1-9][0-9]* ' <<<"$stderr"
	# and every line of all of them is whole
	grep '^madvise-shim ' <<<"$stderr" | assert_whole_lines
}

@test "trace from 8 threads: 4000 whole lines, one per call" {
	local log="$BATS_TEST_TMPDIR/threads.log"
	run shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG="$log" "$SCEN" threads dontneed 500
	assert_success
	[ "$(wc -l <"$log")" -eq 4000 ]
	assert_whole_lines <"$log"
	# from 8 different threads
	[ "$(grep -oE ' tid=[0-9]+ ' "$log" | sort -u | wc -l)" -eq 8 ]
}

@test "trace file: %p gives a forked child its own file" {
	run shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG="$BATS_TEST_TMPDIR/trace.%p.log" \
		"$SCEN" fork free --must-zero
	assert_success
	local files
	files=$(ls "$BATS_TEST_TMPDIR"/trace.*.log | wc -l)
	[ "$files" -eq 2 ]
	for f in "$BATS_TEST_TMPDIR"/trace.*.log; do
		local pid=${f##*/trace.}
		pid=${pid%.log}
		# each file holds only its own process's lines
		[ "$(grep -c " pid=$pid " "$f")" -eq "$(wc -l <"$f")" ]
		[ "$(wc -l <"$f")" -ge 1 ]
	done
}

@test "trace file: appended to, never through a symbolic link" {
	local target="$BATS_TEST_TMPDIR/target" link="$BATS_TEST_TMPDIR/link"
	: >"$target"
	ln -s "$target" "$link"
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG="$link" \
		"$SCEN" repeat dontneed 3
	assert_success
	[ ! -s "$target" ]
	[ "$(grep -c "MADVISE_SHIM_LOG='$link': cannot open it" <<<"$stderr")" -eq 1 ]
	# a plain file is appended to
	local log="$BATS_TEST_TMPDIR/plain.log"
	echo "earlier line" >"$log"
	run shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG="$log" "$SCEN" repeat dontneed 3
	assert_success
	[ "$(head -1 "$log")" = "earlier line" ]
	[ "$(wc -l <"$log")" -eq 4 ]
	# and not inherited by programs it execs (ls runs without the shim)
	run shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_LOG="$log" \
		env -u LD_PRELOAD sh -c 'ls -l /proc/self/fd | grep -c plain.log || true'
	assert_output "0"
}

@test "statistics: the table counts exactly the calls made" {
	run --separate-stderr shim_sim --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_STATS=1 \
		"$SCEN" repeat free 50
	assert_success
	echo "$stderr"
	grep -q '^madvise-shim statistics, pid [0-9]*$' <<<"$stderr"
	# entry advice calls native emulated errors bytes emptied
	grep -qE '^  madvise +FREE +50 +0 +50 +0 +[0-9]+ +[0-9]+$' <<<"$stderr"
	grep -qE '^  missing in this kernel:.* FREE \(EINVAL probe\)' <<<"$stderr"
	# DONTNEED was never called, so it is not listed as missing
	run grep -E 'DONTNEED \(' <<<"$stderr"
	assert_failure 1
}

@test "statistics: native calls, errors, bytes and missing values by how they were found" {
	run --separate-stderr shim_sim -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_STATS=1 \
		"$SCEN" repeat dontneed 10
	assert_success
	# 10 calls of one page (4096 bytes on this machine's page size) each
	local page
	page=$(getconf PAGESIZE)
	grep -qE "^  madvise +DONTNEED +10 +0 +10 +0 +$((10 * page)) +$((10 * page))\$" <<<"$stderr"
	grep -qE ' DONTNEED \(ENOSYS\)' <<<"$stderr"
	run --separate-stderr env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_STATS=1 "$SCEN" repeat dontneed 7
	assert_success
	grep -qE '^  madvise +DONTNEED +7 +7 +0 +0 ' <<<"$stderr"
	grep -q '^  missing in this kernel: none found$' <<<"$stderr"
	run --separate-stderr shim_sim --ignore dontneed -- env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_STATS=1 \
		"$SCEN" repeat dontneed 3
	assert_success
	grep -qE ' DONTNEED \(fake success\)' <<<"$stderr"
	grep -qE '^  madvise +DONTNEED +3 +0 +3 +0 ' <<<"$stderr"
}

@test "statistics: a bad value gets one line and is ignored" {
	run --separate-stderr env LD_PRELOAD="$MADVISE_SHIM_LIB" MADVISE_SHIM_STATS=yes "$SCEN" repeat dontneed 1
	assert_success
	[ "$(grep -c . <<<"$stderr")" -eq 1 ]
	assert_equal "$stderr" "madvise-shim: MADVISE_SHIM_STATS='yes': ignored (accepted: 0, 1)"
}

@test "wrapper: --log, --stats and --probe" {
	local log="$BATS_TEST_TMPDIR/w.log"
	run --separate-stderr shim_sim -- "$MADVISE_SHIM_CMD" --stats --log "$log" -- "$SCEN" repeat dontneed 4
	assert_success
	[ "$(wc -l <"$log")" -eq 4 ]
	grep -qE '^  madvise +DONTNEED +4 ' <<<"$stderr"
	run "$MADVISE_SHIM_CMD" --log= -- true
	assert_failure 2
	[ -x "$BUILD_ROOT/tools/madvise-probe" ] || skip "madvise-probe is not built"
	run "$MADVISE_SHIM_CMD" --probe --json
	assert_success
	python3 -c 'import json,sys; json.load(sys.stdin)' <<<"$output"
}

@test "secure execution: a setuid program ignores MADVISE_SHIM_LOG" {
	[ "$(id -u)" -eq 0 ] || skip_host "needs root to install a setuid library in a trusted directory"
	# Under no_new_privs (madvise-sim, any seccomp sandbox) set-user-ID
	# gives no secure execution, so there is nothing to observe.
	! grep -qx 'NoNewPrivs:[[:space:]]*1' /proc/self/status ||
		skip_host "no_new_privs is set (madvise-sim or another sandbox): set-user-ID gives no secure execution"
	command -v gcc >/dev/null || skip_missing gcc gcc
	local libdir
	libdir=$(dirname "$(realpath "$(gcc -print-file-name=libc.so.6)")")
	[ -d "$libdir" ] || skip_host "no trusted library directory"
	# In secure-execution mode the loader preloads only libraries from its
	# trusted directories that are themselves setuid.
	local lib="$libdir/libmadvise-shim-securetest.so"
	install -m 4755 "$MADVISE_SHIM_LIB" "$lib"
	local dir
	dir=$(mktemp -d /tmp/madvise-secure.XXXXXX)
	chmod 755 "$dir"
	local prog="$dir/suid-scenario"
	install -m 4755 "$SCEN" "$prog"
	local log="$dir/secure.%p.log"
	run su nobody -s /bin/sh -c "cd '$dir' && LD_PRELOAD=libmadvise-shim-securetest.so MADVISE_SHIM_LOG='$log' MADVISE_SHIM_STATS=1 '$prog' which 2>&1 && LD_PRELOAD=libmadvise-shim-securetest.so MADVISE_SHIM_LOG='$log' MADVISE_SHIM_STATS=1 '$prog' repeat dontneed 2 2>&1"
	rm -f "$lib"
	local logs
	logs=$(ls "$dir"/secure.*.log 2>/dev/null | wc -l)
	rm -rf "$dir"
	# the library was loaded in the setuid process...
	assert_output --regexp "madvise comes from .*/libmadvise-shim-securetest.so"
	assert_output --partial "passed: repeat"
	# ...and ignored both variables
	refute_output --partial "statistics"
	[ "$logs" -eq 0 ]
}
