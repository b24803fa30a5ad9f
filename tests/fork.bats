#!/usr/bin/env bats
# Emulated MADV_DONTFORK, DOFORK, WIPEONFORK and KEEPONFORK (shim/emulate/fork.c,
# shim/entry/mapchange.c), against the native kernel.
#
# tests/c/fork_advice.c prints one canonical record per scenario: the results
# of the calls and what a child (and a grandchild) of fork sees page by page.
# The native run is the oracle; every variant below must print the same
# records.  The variants:
#   shim        the shim on the native kernel (passes the advice through)
#   emulate     MADVISE_SHIM_MODE=emulate on the native kernel: the shim
#               emulates all four values although the kernel has them
#   sim         madvise-sim: no madvise at all (ENOSYS), all four emulated
#   sim-4.4     madvise-sim --kernel 4.4: WIPEONFORK and KEEPONFORK missing
#               (EINVAL), DONTFORK and DOFORK the kernel's; no MREMAP_DONTUNMAP
#               (children are wiped by mapping fresh pages) and no
#               PROCMAP_QUERY (mappings are found in /proc/self/maps)
#   sim-maps    as sim, mappings found by parsing /proc/self/maps
#   sim-6.6     madvise-sim --kernel 6.6 with all four values denied: the
#               shim finds out by itself that PROCMAP_QUERY is missing
#   sim-remap   madvise-sim --kernel 4.4 --deny dontneed,dontfork,dofork: all
#               four values and DONTNEED emulated, without MREMAP_DONTUNMAP

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	load lib/trace
	PROG="$TEST_PROGS_DIR/fork-advice"
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# in_variant VARIANT COMMAND ARGS...
in_variant() {
	local variant=$1
	shift
	case $variant in
	native) "$@" ;;
	shim) env ${TRACE_LOG:+MADVISE_SHIM_LOG="$TRACE_LOG"} LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	emulate) env MADVISE_SHIM_MODE=emulate ${TRACE_LOG:+MADVISE_SHIM_LOG="$TRACE_LOG"} \
		LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim) "$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-4.4) "$MADVISE_SIM" --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-maps) "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-6.6) "$MADVISE_SIM" --kernel 6.6 --deny dontfork,dofork,wipeonfork,keeponfork -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-remap) "$MADVISE_SIM" --kernel 4.4 --deny dontneed,dontfork,dofork -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	*) echo "unknown variant $variant" >&2; return 2 ;;
	esac
}

# scenarios [--no-dontunmap]: the differential scenario names, one per line.
scenarios() {
	if [[ ${1:-} == --no-dontunmap ]]; then
		"$PROG" --list | grep -vx mremap-dontunmap
	else
		"$PROG" --list
	fi
}

# records VARIANT SCENARIO...: runs them; stdout must be one record per
# scenario and stderr empty.  Leaves the records in $output.
records() {
	local variant=$1
	shift
	run --separate-stderr in_variant "$variant" "$PROG" "$@"
	assert_success
	if [[ -n $stderr ]]; then
		echo "unexpected stderr in $variant: $stderr"
		return 1
	fi
	if [[ ${#lines[@]} -ne $# ]]; then
		echo "$variant printed ${#lines[@]} records for $# scenarios:"
		echo "$output"
		return 1
	fi
}

# same_as_native VARIANT [--no-dontunmap]
same_as_native() {
	local variant=$1
	local names
	mapfile -t names < <(scenarios "${2:-}")
	records native "${names[@]}"
	local native=$output
	records "$variant" "${names[@]}"
	if [[ $output != "$native" ]]; then
		echo "records differ between native (-) and $variant (+):"
		diff -u --label native --label "$variant" <(echo "$native") <(echo "$output")
		return 1
	fi
}

# ---- the harness ----------------------------------------------------------

@test "precondition: without the shim the simulated kernels refuse the advice" {
	run "$MADVISE_SIM" -- "$PROG" dontfork wipe
	assert_success
	assert_line "dontfork: dontfork=ENOSYS child=oooo grand=oooo parent=oooo"
	assert_line "wipe: wipe=ENOSYS child=oooo grand=oooo parent=oooo"
	run "$MADVISE_SIM" --kernel 4.4 -- "$PROG" dontfork wipe
	assert_success
	assert_line "dontfork: dontfork=0 child=o--o grand=o--o parent=oooo"
	assert_line "wipe: wipe=EINVAL child=oooo grand=oooo parent=oooo"
}

# What the kernel does, spelt out, so that the program and the oracle agree
# on the basics before the variants are compared with it.
@test "native: the kernel's answers for the basic scenarios" {
	records native dontfork dofork wipe keeponfork wipe-dontfork holes unmap-remap wipe-kept-advice
	assert_line "dontfork: dontfork=0 child=o--o grand=o--o parent=oooo"
	assert_line "dofork: dontfork=0 dofork=0 child=-oo- grand=-oo- parent=oooo"
	assert_line "wipe: wipe=0 child=ozzo grand=ozzo parent=oooo"
	assert_line "keeponfork: wipe=0 keep=0 keep2=0 child=zoozoz grand=zoozoz parent=oooooo"
	assert_line "wipe-dontfork: wipe=0 dontfork=0 child=zz-- grand=zz-- parent=oooo"
	assert_line "holes: dontfork=ENOMEM wipe=ENOMEM r-dontfork=ENOMEM r-dofork=ENOMEM keep-hole-only=ENOMEM child=---/z-z/o-o grand=z-z"
	assert_line "unmap-remap: wipe=0 dontfork=0 wipe-all=0 child=zooz/-o--/oooo"
	# the child's wiped pages keep VmFlags dd (child= z, not x, first)
	assert_line "wipe-kept-advice: dontdump=0 wipe=0 child=zz"
}

# ---- every scenario, native against each variant ---------------------------

@test "records: same as native [shim]" { same_as_native shim; }
@test "records: same as native [emulate]" {
	same_as_native emulate
	# The records alone would be the same if the mode were ignored: every
	# call the shim passes to the kernel in mode auto must be emulated here.
	TRACE_LOG="$BATS_TEST_TMPDIR/shim.log"
	records shim $(scenarios)
	local calls
	calls=$(trace_lines "$TRACE_LOG")
	TRACE_LOG="$BATS_TEST_TMPDIR/emulate.log"
	records emulate $(scenarios)
	assert_all_emulated "$TRACE_LOG" "$calls"
}
@test "records: same as native [sim]" { same_as_native sim; }
@test "records: same as native [sim-maps]" { same_as_native sim-maps; }
@test "records: same as native [sim-6.6]" { same_as_native sim-6.6; }
# MREMAP_DONTUNMAP itself is missing before Linux 5.7.
@test "records: same as native but mremap-dontunmap [sim-4.4]" { same_as_native sim-4.4 --no-dontunmap; }
@test "records: same as native but mremap-dontunmap [sim-remap]" { same_as_native sim-remap --no-dontunmap; }

@test "records: each scenario alone, in a fresh process, same as native [sim]" {
	local name native
	for name in $(scenarios); do
		records native "$name"
		native=$output
		records sim "$name"
		assert_output "$native"
	done
}

# A value is emulated only together with the one that undoes it: with one of
# a pair left to the kernel, neither could undo the other.
@test "half a pair denied: the kernel's error, never a half emulation [sim-6.6]" {
	run "$MADVISE_SIM" --kernel 6.6 --deny dontfork -- env LD_PRELOAD="$MADVISE_SHIM_LIB" \
		"$PROG" dontfork dofork
	assert_success
	assert_line "dontfork: dontfork=EINVAL child=oooo grand=oooo parent=oooo"
	assert_line "dofork: dontfork=EINVAL dofork=0 child=oooo grand=oooo parent=oooo"
	run "$MADVISE_SIM" --kernel 6.6 --deny keeponfork -- env LD_PRELOAD="$MADVISE_SHIM_LIB" \
		"$PROG" keeponfork
	assert_success
	assert_line "keeponfork: wipe=0 keep=EINVAL keep2=EINVAL child=zzzzzz grand=zzzzzz parent=oooooo"
}

# ---- the table's limit ------------------------------------------------------

@test "table-full: the kernel has no such limit [native]" {
	run --separate-stderr "$PROG" table-full
	assert_success
	assert_line "table-full: ranges=1100 err=0"
	assert_line "table-full: splits=100 err=0"
	assert_line "table-full: child advised=zzz refused=zzz"
	assert_equal "$stderr" ""
}

table_full_emulated() {
	run --separate-stderr in_variant "$1" "$PROG" table-full
	assert_success
	# madvise may fill all but 16 slots; the rest is left for the splits
	# munmap causes, after which munmap fails like the kernel out of VMAs
	assert_line "table-full: ranges=1008 err=ENOMEM"
	assert_line "table-full: splits=16 err=ENOMEM"
	# the refused range is honestly not wiped
	assert_line "table-full: child advised=zzz refused=ooo"
	local nlines
	nlines=$(grep -c . <<<"$stderr")
	assert_equal "$nlines" 1
	assert_regex "$stderr" '^madvise-shim: the table of emulated fork advice is full .*ENOMEM$'
}

@test "table-full: ENOMEM and one line on stderr [sim]" { table_full_emulated sim; }
@test "table-full: ENOMEM and one line on stderr [sim-4.4]" { table_full_emulated sim-4.4; }
@test "table-full: ENOMEM and one line on stderr [emulate]" { table_full_emulated emulate; }

# ---- threads, fork and signal handlers ----------------------------------------

threads_ok() {
	local i
	for i in 1 2 3; do
		run --separate-stderr timeout 120 bash -c "$(declare -f in_variant); in_variant $1 '$PROG' threads"
		assert_success
		# signals-handled-during-forks: a handler advised while forks were
		# under way, not only that signals were sent
		assert_output "threads: forks=80 children-ok=80 bad-calls=0 signals-handled-during-forks=yes"
		assert_equal "$stderr" ""
	done
	if [[ $1 == emulate ]]; then
		# once more with a trace: the same output when the mode is ignored
		# would mean nothing, so every call must have been emulated
		export TRACE_LOG="$BATS_TEST_TMPDIR/threads.log"
		run --separate-stderr timeout 120 bash -c "$(declare -f in_variant); in_variant $1 '$PROG' threads"
		assert_success
		# 3 advisers x 300 rounds x 5 calls and the 2 stable regions, and
		# 2 calls per signal handled
		assert_all_emulated "$TRACE_LOG" 4502+
	fi
}

@test "threads: forks while others advise, remap and take signals [native]" { threads_ok native; }
@test "threads: forks while others advise, remap and take signals [sim]" { threads_ok sim; }
@test "threads: forks while others advise, remap and take signals [sim-4.4]" { threads_ok sim-4.4; }
@test "threads: forks while others advise, remap and take signals [emulate]" { threads_ok emulate; }

# ---- cost --------------------------------------------------------------------

need_strace() {
	command -v strace >/dev/null || skip_missing strace strace
}

# run_loop VARIANT STRACE-OPTIONS -- ARGS...: fork-advice ARGS under strace
# into $BATS_TEST_TMPDIR/strace.log; fails unless the program ran to its end
# (exit status 0 and its "done" line), so that a low count of calls cannot
# come from a program that died at once.
run_loop() {
	local variant=$1 opts=()
	shift
	while [[ $1 != -- ]]; do
		opts+=("$1")
		shift
	done
	shift
	local out st=0
	out=$(in_variant "$variant" strace -f -qq -o "$BATS_TEST_TMPDIR/strace.log" "${opts[@]}" \
		"$PROG" "$@") || st=$?
	if (( st != 0 )) || [[ $out != "$1: done" ]]; then
		echo "fork-advice $* in $variant: exit status $st, output '$out' (expected '$1: done')" >&2
		return 1
	fi
}

# count_calls VARIANT ARGS...: rt_sigprocmask calls made by fork-advice ARGS.
count_calls() {
	local variant=$1
	shift
	run_loop "$variant" -e trace=rt_sigprocmask -- "$@" || return 1
	grep -c 'rt_sigprocmask(' "$BATS_TEST_TMPDIR/strace.log" || true
}

@test "cost: only mmap without MAP_FIXED takes the lock for memory without fork advice [sim]" {
	need_strace
	local before after
	before=$(count_calls sim map-loop)
	after=$(count_calls sim map-loop --advised)
	echo "rt_sigprocmask calls: $before without advice, $after with"
	# 1000 rounds of mmap, in-place mremap and munmap: no lock without any
	# advice; with a WIPEONFORK range elsewhere, a mask and its restore for
	# each mmap (the kernel picks its address) and none for the others
	(( before < 10 ))
	(( after >= 2000 && after < 2100 ))
}

# count_syscalls VARIANT ARGS...: every system call made by fork-advice ARGS,
# as NAME COUNT lines.
count_syscalls() {
	local variant=$1
	shift
	local log="$BATS_TEST_TMPDIR/strace.log"
	run_loop "$variant" -c -- "$@" || return 1
	# columns: % time, seconds, usecs/call, calls, [errors,] syscall
	awk 'NF >= 5 && $4 ~ /^[0-9]+$/ && $NF ~ /^[a-z_0-9]+$/ { print $NF, $4 }' "$log"
}

@test "cost: an emulated DONTNEED takes the lock only on memory with fork advice [sim]" {
	need_strace
	local plain advised
	plain=$(count_syscalls sim discard-loop)
	advised=$(count_syscalls sim discard-loop --advised)
	printf 'unadvised page:\n%s\nWIPEONFORK page:\n%s\n' "$plain" "$advised"
	count() { awk -v n="$2" '$1 == n { print $2 }' <<<"$1"; }
	# 1000 calls: a move and an unmap each, and a fork kept out around
	# them (a mask and its restore) only where the page has fork advice
	(( $(count "$plain" mremap) >= 1000 && $(count "$plain" mremap) < 1010 ))
	(( $(count "$plain" munmap) >= 1000 && $(count "$plain" munmap) < 1030 ))
	(( $(count "$plain" rt_sigprocmask) < 20 ))
	(( $(count "$advised" mremap) >= 1000 ))
	(( $(count "$advised" rt_sigprocmask) >= 2000 && $(count "$advised" rt_sigprocmask) < 2030 ))
}
