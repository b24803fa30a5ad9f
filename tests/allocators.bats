#!/usr/bin/env bats
# Real allocators on a kernel without madvise: jemalloc, mimalloc and tcmalloc
# (Debian's libjemalloc2, libmimalloc2.0, libtcmalloc-minimal4) preloaded
# together with the shim, under madvise-sim.
#
# tests/c/churn.c allocates, frees, purges, keeps scattered survivors and
# prints its resident anonymous memory (minus LazyFree) on an rss-kib line.
# For each allocator the same churn runs three times:
#   native      the allocator alone on the real kernel: the oracle
#   sim+shim    madvise-sim (no madvise at all) with the shim and the allocator
#   sim         madvise-sim with the allocator and no shim: every purge fails
# and the test demands that
#   - every run reaches its end with every live block intact;
#   - natively the purge gives most memory back (else the comparison is moot);
#   - with the shim, memory after the purge is at most 1.5 times the native
#     figure, or at most 8 MiB above it;
#   - without the shim, at least half of the peak stays resident: the
#     comparison can fail.
# Start-up is checked in both preload orders (shim first, allocator first),
# four threads each, under timeout(1): no recursion between the shim's dlsym
# and the allocator's first madvise, and no deadlock.
#
# The allocators are told to purge at once:
#   jemalloc   MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0, and
#              mallctl("arena.<all>.purge")
#   mimalloc   MIMALLOC_PURGE_DELAY=0 (2.1 and later) and its 2.0 name
#              MIMALLOC_DECOMMIT_DELAY=0 (Debian 12 ships 2.0.9, which ignores
#              the first), MIMALLOC_PURGE_DECOMMITS=1, and mi_collect(true)
#   tcmalloc   MallocExtension_ReleaseFreeMemory()

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	CHURN="$TEST_PROGS_DIR/alloc-churn"
	export TMPDIR="$BATS_TEST_TMPDIR"
}

CHURN_MIB=${CHURN_MIB:-64}
CHURN_TIMEOUT=${CHURN_TIMEOUT:-180}

# alloc_lib ALLOCATOR: sets LIB to the library's path and ENVS to its
# settings, or skips the test when the Debian package is not installed.
alloc_lib() {
	local soname package
	case $1 in
	jemalloc)
		soname=libjemalloc.so.2 package=libjemalloc2
		ENVS=(MALLOC_CONF=dirty_decay_ms:0,muzzy_decay_ms:0)
		;;
	mimalloc)
		soname=libmimalloc.so.2 package=libmimalloc2.0
		ENVS=(MIMALLOC_PURGE_DELAY=0 MIMALLOC_DECOMMIT_DELAY=0 MIMALLOC_PURGE_DECOMMITS=1)
		;;
	tcmalloc)
		soname=libtcmalloc_minimal.so.4 package=libtcmalloc-minimal4
		ENVS=()
		;;
	esac
	LIB=$(/sbin/ldconfig -p 2>/dev/null | awk -v n="$soname" '$1 == n { print $NF; exit }')
	if [[ -z $LIB ]]; then
		local d
		for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib; do
			[[ -e $d/$soname ]] && LIB=$d/$soname && break
		done
	fi
	[[ -n $LIB ]] || skip_missing "$soname" "$package"
}

# churn MODE [ARGS...]: runs the churn with $LIB, checks that it ran to its
# end, and sets BASE PEAK PURGED (KiB) from its rss-kib line.
#   native   the allocator alone
#   shim     madvise-sim, LD_PRELOAD=shim:allocator
#   shim2    madvise-sim, LD_PRELOAD=allocator:shim
#   sim      madvise-sim, the allocator alone
churn() {
	local mode=$1 pre
	shift
	local -a cmd=()
	case $mode in
	native) pre=$LIB ;;
	shim) pre=$MADVISE_SHIM_LIB:$LIB cmd=("$MADVISE_SIM" --) ;;
	shim2) pre=$LIB:$MADVISE_SHIM_LIB cmd=("$MADVISE_SIM" --) ;;
	sim) pre=$LIB cmd=("$MADVISE_SIM" --) ;;
	esac
	run timeout --kill-after=10 "$CHURN_TIMEOUT" "${cmd[@]}" env "${ENVS[@]}" \
		LD_PRELOAD="$pre" "$CHURN" --mib "$CHURN_MIB" "$@"
	if [[ $status -eq 124 || $status -eq 137 ]]; then
		echo "$mode: still running after ${CHURN_TIMEOUT}s: a deadlock or a recursion"
	fi
	assert_success
	assert_line --regexp '^passed: churn \([0-9]+ checks\)$'
	local line
	line=$(grep '^rss-kib ' <<<"$output")
	[[ $line =~ baseline=([0-9]+)\ peak=([0-9]+)\ half=[0-9]+\ purged=([0-9]+) ]] ||
		fail "$mode: no rss-kib line in: $output"
	BASE=${BASH_REMATCH[1]} PEAK=${BASH_REMATCH[2]} PURGED=${BASH_REMATCH[3]}
	echo "$mode: baseline ${BASE} KiB, peak ${PEAK} KiB, after the purge ${PURGED} KiB"
}

# compare ALLOCATOR: the three runs and the three verdicts.
compare() {
	alloc_lib "$1"
	churn native
	local n_base=$BASE n_peak=$PEAK n_purged=$PURGED
	((n_purged - n_base < (n_peak - n_base) / 2)) ||
		fail "natively $1 kept ${n_purged} of ${n_peak} KiB after the purge: nothing to compare with"

	churn shim
	local limit=$((n_purged * 3 / 2))
	((limit < n_purged + 8192)) && limit=$((n_purged + 8192))
	((PURGED <= limit)) ||
		fail "with the shim $1 kept ${PURGED} KiB after the purge, natively ${n_purged} KiB (limit ${limit})"

	churn sim
	((PURGED - BASE >= (PEAK - BASE) / 2)) ||
		fail "without the shim $1 gave back memory anyway (${PURGED} of ${PEAK} KiB kept): the test cannot fail"
}

# orders ALLOCATOR: both preload orders start, run with threads to the end,
# go through the shim (its statistics count emulated calls) and return
# memory.  LD_DEBUG=libs shows the two orders really differ in which
# constructor runs first.
orders() {
	alloc_lib "$1"
	local mode first=()
	ENVS+=(MADVISE_SHIM_STATS=1)
	for mode in shim shim2; do
		churn "$mode" --threads 4 --rounds 1
		assert_output --regexp $'\n  madvise +(DONTNEED|FREE) +[0-9]+ +0 +[1-9][0-9]* '
		((PURGED - BASE < (PEAK - BASE) / 2)) ||
			fail "$mode: ${PURGED} of ${PEAK} KiB still resident after the purge"
		local pre=$MADVISE_SHIM_LIB:$LIB
		[[ $mode == shim2 ]] && pre=$LIB:$MADVISE_SHIM_LIB
		run env LD_DEBUG=libs LD_PRELOAD="$pre" "$CHURN" --help
		assert_success
		first+=("$(grep -E "calling init: .*($(basename "$LIB")|$(basename "$MADVISE_SHIM_LIB"))\$" \
			<<<"$output" | head -1 | sed 's/.*calling init: //')")
	done
	[[ ${first[0]} != "${first[1]}" ]] ||
		fail "both orders ran ${first[0]}'s constructor first"
}

@test "precondition: the churn recognises each allocator" {
	local a
	for a in jemalloc mimalloc tcmalloc; do
		alloc_lib $a
		run env LD_PRELOAD="$LIB" "$CHURN" --mib 1 --rounds 1
		assert_success
		assert_line --partial "note allocator: $a "
	done
}

@test "jemalloc: after the purge, as little memory under sim+shim as natively; without the shim it stays" {
	compare jemalloc
}

@test "jemalloc: both preload orders start and run 4 threads to the end under sim" {
	orders jemalloc
}

@test "mimalloc: after the purge, as little memory under sim+shim as natively; without the shim it stays" {
	compare mimalloc
}

@test "mimalloc: both preload orders start and run 4 threads to the end under sim" {
	orders mimalloc
}

@test "mimalloc: page reset with MADV_FREE (MIMALLOC_PAGE_RESET=1), emulated under sim+shim" {
	alloc_lib mimalloc
	ENVS+=(MIMALLOC_PAGE_RESET=1 MIMALLOC_RESET_DELAY=0 MADVISE_SHIM_STATS=1)
	churn native
	local n_purged=$PURGED
	churn shim
	assert_output --regexp $'\n  madvise +FREE +[0-9]+ +0 +[1-9][0-9]* '
	local limit=$((n_purged * 3 / 2))
	((limit < n_purged + 8192)) && limit=$((n_purged + 8192))
	((PURGED <= limit)) || fail "with the shim ${PURGED} KiB after the purge, natively ${n_purged} KiB"
}

@test "tcmalloc: after the purge, as little memory under sim+shim as natively; without the shim it stays" {
	compare tcmalloc
}

@test "tcmalloc: both preload orders start and run 4 threads to the end under sim" {
	orders tcmalloc
}
