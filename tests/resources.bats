#!/usr/bin/env bats
# Resource edges: madvise at the limits of what the kernel gives a process,
# natively (the oracle) and with the shim on simulated kernels.  Each edge is
# a subcommand of madvise-fuzz (--edge NAME, see tests/c/fuzz.c), which prints
# one line per sub-case with ret, errno, the pages' contents (W written, Z
# zero, OZ old-or-zero after FREE, G guard, - no access) and protections.
#
# Variants:
#   native           no shim
#   sim              madvise-sim (no madvise at all: ENOSYS) + the shim
#   sim-4.4          madvise-sim --kernel 4.4 + the shim
#   sim-4.4-nodn     madvise-sim --kernel 4.4 --deny dontneed + the shim: no
#                    MADV_DONTNEED and no MREMAP_DONTUNMAP, so the shim empties
#                    pages with its mmap(MAP_FIXED) fallback
#
# Global limits are changed only when the test can write them (root), and
# for as short a time as possible: vm.max_map_count and vm.overcommit_memory
# are set by the edge itself just before its call and restored right after
# (milliseconds), vm.nr_hugepages for the test.  teardown restores every value
# a test could have changed, whatever happened.  A lock file keeps this suite
# and tests/fuzz.bats (whose records a changed limit would change) apart.

bats_require_minimum_version 1.5.0

setup_file() {
	export EDGE="$TEST_PROGS_DIR/madvise-fuzz"
	# the oracles that need no changed limit, once
	export ORACLES="$BATS_FILE_TMPDIR/oracles"
	mkdir -p "$ORACLES"
	"$EDGE" --edge mlock >"$ORACLES/mlock" 2>&1 || true
	"$EDGE" --edge mseal >"$ORACLES/mseal" 2>&1 || true
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	export TMPDIR="$BATS_TEST_TMPDIR"
	SAVED="$BATS_TEST_TMPDIR/sysctl.saved"
}

teardown() {
	# restore in reverse order of change
	if [[ -f $SAVED ]]; then
		local f v
		tac "$SAVED" | while read -r f v; do
			echo "$v" >"$f" || echo "teardown: could not restore $f to $v" >&2
		done
		rm -f "$SAVED"
	fi
}

# lock: takes the suite's lock file, which tests/fuzz.bats holds shared
# while it runs: a global limit changed under a fuzz run would change its
# records.
lock() {
	[[ -n ${LOCKED:-} ]] && return 0
	exec {LOCK_FD}>/tmp/madvise-shim-resources.lock
	flock -w 590 "$LOCK_FD" || skip "another run holds /tmp/madvise-shim-resources.lock"
	LOCKED=1
}

# keep_sysctl NAME: the test may change /proc/sys/NAME (skipped when it
# cannot write it); teardown puts the current value back.
keep_sysctl() {
	local f=/proc/sys/${1//.//}
	[[ -w $f ]] || skip_host "cannot write $f (needs root)"
	lock
	echo "$f $(cat "$f")" >>"$SAVED"
}

# set_sysctl NAME VALUE: sets /proc/sys/NAME for the rest of the test.
set_sysctl() {
	keep_sysctl "$1"
	echo "$2" >"/proc/sys/${1//.//}" || skip_host "cannot set $1 to $2"
}

# edge VARIANT ARGS...: runs madvise-fuzz --edge ARGS in VARIANT; output in
# $output, one line per sub-case.
edge() {
	local v=$1
	shift
	local -a wrap
	case $v in
	native) wrap=() ;;
	sim) wrap=("$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	sim-4.4) wrap=("$MADVISE_SIM" --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	sim-4.4-nodn) wrap=("$MADVISE_SIM" --kernel 4.4 --deny dontneed -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	*) echo "unknown variant $v"; return 2 ;;
	esac
	run timeout 120 "${wrap[@]}" "$EDGE" --edge "$@"
	echo "$ ${wrap[*]} $EDGE --edge $*"
	echo "$output"
	[[ $status == 0 ]] || { echo "exit status $status"; return 1; }
}

# field LINE KEY: the value of the first KEY= in LINE.
field() {
	local re=" $2=([^ ]*)"
	[[ " $1" =~ $re ]] && echo "${BASH_REMATCH[1]}"
}

# ---- vm.max_map_count ------------------------------------------------------

# The process has all but SLACK (0, 2, 4, 6) mappings it may have, and DONTNEED
# empties pages 4-11 of a 16-page mapping.  The kernel needs no new mapping
# for that and always succeeds; the shim's mremap needs room for up to three,
# its fallback for two.  Allowed: the kernel's result, or ENOMEM with every
# page still mapped read-write, the pages outside the range intact and those
# inside old or zero.  Then, with the mappings free again, a second DONTNEED
# must be the kernel's in every way, policy kept included (a shim that
# remembered the failure would replace the range instead).
maxmap() {
	local v=$1 line
	local -a limit=()
	if [[ -w /proc/sys/vm/max_map_count ]]; then
		keep_sysctl vm.max_map_count
		# low, but far above what any process on the machine uses now;
		# the edge sets it for the moment of its call only
		local most=0 n p
		for p in /proc/[0-9]*/maps; do
			n=$(wc -l <"$p" 2>/dev/null) || continue
			(( n > most )) && most=$n
		done
		limit=(--sysctl --limit $(( most * 2 + 1024 > 4096 ? most * 2 + 1024 : 4096 )))
	fi
	local slack warm first then bad=0
	for slack in 0 2 4 6; do
		for warm in '' --warm; do
			edge "$v" maxmap --edge-arg "$slack" $warm "${limit[@]}"
			line=$output
			first=${line%% then *}
			then=${line#* then }
			[[ $(field "$first" prot) == 'rw-p*16' ]] ||
				{ echo "slack $slack $warm: a page was unmapped or changed protection: $first"; bad=1; }
			if [[ $(field "$first" ret) == 0 ]]; then
				[[ $(field "$first" data) == 'W*4,Z*8,W*4' ]] ||
					{ echo "slack $slack $warm: success, but data $(field "$first" data)"; bad=1; }
			else
				[[ $(field "$first" errno) == ENOMEM ]] ||
					{ echo "slack $slack $warm: failed with $(field "$first" errno), not ENOMEM"; bad=1; }
				[[ $(field "$first" data) =~ ^W\*4,([WZ](\*[0-9]+)?,)*W\*4$|^W\*16$ ]] ||
					{ echo "slack $slack $warm: failed, and data $(field "$first" data)"; bad=1; }
				[[ $v != native ]] || { echo "slack $slack $warm: the kernel itself failed"; bad=1; }
			fi
			[[ $(field "$then" ret) == 0 && $(field "$then" data) == 'W*4,Z*8,W*4' &&
			   $(field "$then" prot) == 'rw-p*16' ]] ||
				{ echo "slack $slack $warm: with mappings free again, not the kernel's result: $then"; bad=1; }
			if [[ $v != sim-4.4-nodn && $(field "$then" policy) == lost ]]; then
				echo "slack $slack $warm: with mappings free again, the range was replaced (memory policy lost): $then"
				bad=1
			fi
		done
	done
	return $bad
}

@test "maxmap: near vm.max_map_count DONTNEED empties or fails cleanly, never leaves a hole [native]" { maxmap native; }
@test "maxmap: near vm.max_map_count DONTNEED empties or fails cleanly, never leaves a hole [sim]" { maxmap sim; }
@test "maxmap: near vm.max_map_count DONTNEED empties or fails cleanly, never leaves a hole [sim-4.4]" { maxmap sim-4.4; }
@test "maxmap: near vm.max_map_count DONTNEED empties or fails cleanly, never leaves a hole [sim-4.4-nodn]" { maxmap sim-4.4-nodn; }

# ---- vm.overcommit_memory=2 ---------------------------------------------------

# Strict overcommit, a filler that takes all but MARGIN MiB of the commit
# limit, and DONTNEED of the middle 128 MiB of a 256 MiB private writable
# mapping.  The kernel needs no commit for that.  With 1 GiB to spare the
# shim must succeed too; at the limit it may fail with ENOMEM, but the
# mapping must stay whole, read-write, with old or zero bytes in the range.
# (The kernel keeps a reserve of up to 128 MiB per process out of reach, and
# other processes change Committed_AS, so the margins are approximate.)
#
# A margin the filler could not leave has not been checked, so it may not
# pass.  Where Committed_AS is already within reach of it (the kernel's
# per-process reserve, vm.user_reserve_kbytes, and the edge's 28 MiB of
# retries), this host cannot have that situation: the test skips, once the
# other margins are checked.  With more room left, a filler that failed is
# a failure.
overcommit() {
	local v=$1 margin line bad=0 headroom reserve_mb
	local -a short=()
	keep_sysctl vm.overcommit_memory
	reserve_mb=$(( $(cat /proc/sys/vm/user_reserve_kbytes) / 1024 + 28 ))
	for margin in 1024 160 0; do
		edge "$v" overcommit --edge-arg "$margin" --sysctl
		line=$output
		[[ $(field "$line" mode) == 2 ]] || { echo "could not set strict overcommit: $line"; return 1; }
		if [[ $(field "$line" filled) != 1 ]]; then
			headroom=$(field "$line" headroom_mb)
			if [[ $headroom =~ ^-?[0-9]+$ ]] && (( headroom - margin <= reserve_mb )); then
				echo "margin $margin: not set up: $headroom MiB of commit left, reserve $reserve_mb MiB: $line"
				short+=("$margin")
			else
				echo "margin $margin: the filler could not take the commit, with more than the reserve ($reserve_mb MiB) left: $line"
				bad=1
			fi
			continue
		fi
		[[ $(field "$line" mapped) == all && $(field "$line" prot) == rw-p ]] ||
			{ echo "margin $margin: the mapping lost pages or protection: $line"; bad=1; }
		if [[ $(field "$line" ret) == 0 ]]; then
			[[ $(field "$line" data) == 'W*64,Z*128,W*64' ]] ||
				{ echo "margin $margin: success, but data $(field "$line" data)"; bad=1; }
		else
			[[ $v != native && $margin != 1024 ]] ||
				{ echo "margin $margin: DONTNEED failed with room to spare: $line"; bad=1; }
			# ENOMEM, or the shim gave up (it could not map its own
			# scratch memory) with the error of a kernel without
			# DONTNEED, every byte as it was
			local e
			e=$(field "$line" errno)
			if [[ $e == ENOMEM ]]; then
				[[ $(field "$line" data) =~ ^W\*64,([WZ](\*[0-9]+)?,)*W\*64$|^W\*256$ ]] ||
					{ echo "margin $margin: failed, and data $(field "$line" data)"; bad=1; }
			elif [[ ( $v == sim && $e == ENOSYS ) || ( $v == sim-4.4-nodn && $e == EINVAL ) ]]; then
				echo "margin $margin: the shim gave up with the kernel's error: $line"
				[[ $(field "$line" data) == 'W*256' ]] ||
					{ echo "margin $margin: gave up, and data $(field "$line" data)"; bad=1; }
			else
				echo "margin $margin: failed with $e"
				bad=1
			fi
		fi
	done
	(( bad == 0 )) || return 1
	(( ${#short[@]} == 0 )) ||
		skip_host "Committed_AS too close to CommitLimit to leave a margin of ${short[*]} MiB"
}

@test "overcommit: at the commit limit DONTNEED empties or fails cleanly, never leaves a hole [native]" { overcommit native; }
@test "overcommit: at the commit limit DONTNEED empties or fails cleanly, never leaves a hole [sim]" { overcommit sim; }
@test "overcommit: at the commit limit DONTNEED empties or fails cleanly, never leaves a hole [sim-4.4]" { overcommit sim-4.4; }
@test "overcommit: at the commit limit DONTNEED empties or fails cleanly, never leaves a hole [sim-4.4-nodn]" { overcommit sim-4.4-nodn; }

# ---- mlock ------------------------------------------------------------------------

# Every sub-case as natively: DONTNEED and FREE on locked memory give EINVAL
# and leave it locked and intact, DONTNEED_LOCKED empties it and keeps it
# locked, a partly locked range is emptied up to the lock.  The exception is
# memory locked with mmap(MAP_LOCKED), which the shim cannot see (README,
# "What the shim cannot catch"): there the documented outcome is allowed.
mlocked() {
	local v=$1 line want bad=0
	local oracle
	oracle=$(<"$ORACLES/mlock")
	edge "$v" mlock
	while read -r line; do
		local sub
		sub=$(awk '{ print $2 }' <<<"$line")
		want=$(grep -F "mlock $sub " <<<"$oracle")
		[[ $line == "$want" ]] && continue
		oracle_lacks "$want" && continue
		if [[ $sub == map-locked-dontneed && $v != native &&
		      $(field "$line" ret) == 0 && $(field "$line" data) == 'Z*8' ]]; then
			echo "documented: MAP_LOCKED memory is emptied and unlocked: $line"
			continue
		fi
		echo "differs from native: $line"
		echo "               native: $want"
		bad=1
	done <<<"$output"
	(( $(wc -l <<<"$output") == $(wc -l <<<"$oracle") )) || { echo "sub-cases missing"; bad=1; }
	return $bad
}

@test "mlock: locked memory is refused or emptied as the kernel does, and stays locked [sim]" { mlocked sim; }
@test "mlock: locked memory is refused or emptied as the kernel does, and stays locked [sim-4.4]" { mlocked sim-4.4; }
@test "mlock: locked memory is refused or emptied as the kernel does, and stays locked [sim-4.4-nodn]" { mlocked sim-4.4-nodn; }

# ---- mseal (Linux 6.10) -------------------------------------------------------------

# The documented differences on sealed memory (docs/reliability.md), as
# VARIANT SUB-CASE RET ERRNO: the shim's mremap and mprotect are refused on
# sealed memory, and its fork advice does not read the seal.
SEAL_DOCUMENTED='
sim          anon-ro-remove            -1 EINVAL
sim          anon-ro-dontfork           0 kept
sim          anon-ro-wipeonfork         0 kept
sim          anon-rw-dontneed          -1 EPERM
sim          anon-rw-free              -1 EPERM
sim          anon-rw-dontneed-locked   -1 EPERM
sim          anon-rw-guard-install     -1 EPERM
sim          shm-ro-guard-install      -1 EPERM
sim-4.4      anon-ro-wipeonfork         0 kept
sim-4.4      anon-rw-guard-install     -1 EPERM
sim-4.4      shm-ro-guard-install      -1 EPERM
sim-4.4-nodn anon-ro-wipeonfork         0 kept
sim-4.4-nodn anon-rw-dontneed          -1 EPERM
sim-4.4-nodn anon-rw-free              -1 EPERM
sim-4.4-nodn anon-rw-dontneed-locked   -1 EPERM
sim-4.4-nodn anon-rw-guard-install     -1 EPERM
sim-4.4-nodn shm-ro-guard-install      -1 EPERM
'

# Every sub-case is the kernel's outcome, or a documented difference whose
# failure leaves the bytes as they were (a guard install that fails after
# emptying private pages excepted: the kernel would have emptied them too).
# Sealed read-only anonymous memory refuses DONTNEED, FREE and
# DONTNEED_LOCKED with EPERM everywhere.
sealed() {
	local v=$1 line want bad=0
	local oracle
	oracle=$(<"$ORACLES/mseal")
	need_feature mseal
	[[ $oracle == *setup=* ]] && skip_host "mseal fails to set up: $oracle"
	edge "$v" mseal
	while read -r line; do
		local sub
		sub=$(awk '{ print $2 }' <<<"$line")
		case $sub in
		anon-ro-dontneed|anon-ro-free|anon-ro-dontneed-locked)
			[[ $(field "$line" ret) == -1 && $(field "$line" errno) == EPERM &&
			   $(field "$line" data) == 'W*4' ]] ||
				{ echo "sealed read-only memory not refused: $line"; bad=1; } ;;
		esac
		want=$(grep -F "mseal $sub " <<<"$oracle")
		[[ $line == "$want" ]] && continue
		oracle_lacks "$want" && continue
		local doc
		doc=$(awk -v v="$v" -v s="$sub" '$1 == v && $2 == s { print $3, $4 }' <<<"$SEAL_DOCUMENTED")
		if [[ -n $doc && "$(field "$line" ret) $(field "$line" errno)" == "$doc" ]]; then
			if [[ $(field "$line" ret) == -1 && $(field "$line" data) != 'W*4' &&
			      ! ( $sub == anon-rw-guard-install && $(field "$line" data) == 'Z*4' ) ]]; then
				echo "failed, but the bytes changed: $line"
				bad=1
			else
				echo "documented: $line   (native: $(field "$want" ret) $(field "$want" errno))"
			fi
			continue
		fi
		echo "differs from native: $line"
		echo "               native: $want"
		bad=1
	done <<<"$output"
	return $bad
}

@test "mseal: sealed memory gets the kernel's answers or a documented difference, and keeps its bytes [sim]" { sealed sim; }
@test "mseal: sealed memory gets the kernel's answers or a documented difference, and keeps its bytes [sim-4.4]" { sealed sim-4.4; }
@test "mseal: sealed memory gets the kernel's answers or a documented difference, and keeps its bytes [sim-4.4-nodn]" { sealed sim-4.4-nodn; }

# ---- a 1 TiB reservation ----------------------------------------------------------------

# DONTNEED and FREE over a 1 TiB MAP_NORESERVE reservation (PROT_NONE, or
# read-write with four pages written) succeed, leave it one mapping with its
# protection and MAP_NORESERVE, empty the written pages, and need neither
# memory nor page tables nor time in proportion to the size.
reserve() {
	local v=$1 line bad=0
	edge "$v" reserve
	(( $(wc -l <<<"$output") == 4 )) || { echo "expected 4 sub-cases"; return 1; }
	while read -r line; do
		[[ $(field "$line" ret) == 0 && $(field "$line" mapping) == same ]] ||
			{ echo "not kept whole, or failed: $line"; bad=1; }
		(( $(field "$line" ms) < 10000 )) || { echo "took too long: $line"; bad=1; }
		(( $(field "$line" rss_delta_kb) < 65536 )) || { echo "RSS grew: $line"; bad=1; }
		(( $(field "$line" pte_delta_kb) < 4096 )) || { echo "page tables grew: $line"; bad=1; }
		case $(awk '{ print $2 }' <<<"$line") in
		none-*) [[ $(field "$line" data) == '-*4' ]] ;;
		rw-dontneed) [[ $(field "$line" data) == 'Z*4' ]] ;;
		rw-free) [[ $(field "$line" data) == 'OZ*4' ]] ;;
		esac || { echo "contents: $line"; bad=1; }
	done <<<"$output"
	return $bad
}

@test "reserve: DONTNEED and FREE of a 1 TiB reservation succeed in bounded time and memory [native]" { reserve native; }
@test "reserve: DONTNEED and FREE of a 1 TiB reservation succeed in bounded time and memory [sim]" { reserve sim; }
@test "reserve: DONTNEED and FREE of a 1 TiB reservation succeed in bounded time and memory [sim-4.4]" { reserve sim-4.4; }
@test "reserve: DONTNEED and FREE of a 1 TiB reservation succeed in bounded time and memory [sim-4.4-nodn]" { reserve sim-4.4-nodn; }

# ---- MAP_HUGETLB --------------------------------------------------------------------------

# What the shim answers on hugetlb memory where that is not the kernel's
# answer, as VARIANT SUB-CASE OUTCOME (ret, errno and data exactly as the edge
# prints them).  Private hugetlb memory the shim would have to empty itself
# it leaves alone: mremap(MREMAP_DONTUNMAP) refuses it, and a remap would
# round to whole huge pages where the kernel rounds down (DONTNEED of one
# base page frees nothing), so the call fails with the simulated kernel's
# error for the missing advice, every byte as it was (shim/emulate/discard.c,
# discard_private_once).  PAGEOUT, emulated as a hint, answers 0 where the
# kernel refuses hugetlb with EINVAL (documented, docs/reliability.md).
HUGETLB_SHIM='
sim          private-dontneed                ret=-1 errno=ENOSYS data=W*2
sim          private-dontneed-one-base-page  ret=-1 errno=ENOSYS data=W*2
sim          private-dontneed-unaligned      ret=-1 errno=ENOSYS data=W*2
sim          private-dontneed-locked         ret=-1 errno=ENOSYS data=W*2
sim          private-pageout                 ret=0 errno=kept data=W*2
sim-4.4      private-pageout                 ret=0 errno=kept data=W*2
sim-4.4-nodn private-dontneed                ret=-1 errno=EINVAL data=W*2
sim-4.4-nodn private-dontneed-one-base-page  ret=-1 errno=EINVAL data=W*2
sim-4.4-nodn private-dontneed-locked         ret=-1 errno=EINVAL data=W*2
sim-4.4-nodn private-pageout                 ret=0 errno=kept data=W*2
'

# hugepages VARIANT: reserves two huge pages if none are free (skips when
# the kernel cannot), then pins each sub-case: the outcome HUGETLB_SHIM
# names for it, else exactly the kernel's.  Every other sub-case is emulated
# (sim: DONTNEED of shared memory, REMOVE; sim-4.4: DONTNEED_LOCKED through
# the kernel's DONTNEED, FREE refused), so a shim that gave the kernel's
# error there instead fails.  A huge page may never be zeroed where the
# kernel keeps it.
hugepages() {
	local v=$1 line want bad=0
	local free
	# this suite's other runs must not take the pages in between
	lock
	free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
	if (( free < 2 )); then
		set_sysctl vm.nr_hugepages $(( $(cat /proc/sys/vm/nr_hugepages) + 2 - free ))
		free=$(awk '/^HugePages_Free:/ { print $2 }' /proc/meminfo)
		(( free >= 2 )) || skip_host "no huge pages could be reserved"
	fi
	edge native hugetlb
	local oracle=$output
	[[ $oracle == *skip=* ]] && skip_host "$oracle"
	[[ $oracle != *setup=* ]] || { echo "the native edge could not map its huge pages"; return 1; }
	edge "$v" hugetlb
	(( $(wc -l <<<"$output") == $(wc -l <<<"$oracle") && $(wc -l <<<"$oracle") == 8 )) ||
		{ echo "expected the 8 sub-cases in both runs"; bad=1; }
	while read -r line; do
		local sub pinned
		sub=$(awk '{ print $2 }' <<<"$line")
		want=$(grep -F "hugetlb $sub " <<<"$oracle")
		pinned=$(awk -v v="$v" -v s="$sub" '$1 == v && $2 == s { $1 = $2 = ""; sub(/^ +/, ""); print }' \
			<<<"$HUGETLB_SHIM")
		if [[ -n $pinned ]]; then
			[[ $line == "hugetlb $sub $pinned" ]] && {
				echo "the shim's own answer: $line   (native: $(field "$want" ret) $(field "$want" errno))"
				continue
			}
			echo "not the shim's documented answer: $line"
			echo "                          expected: hugetlb $sub $pinned"
			bad=1
			continue
		fi
		[[ $line == "$want" ]] && continue
		oracle_lacks "$want" && continue
		echo "differs from native: $line"
		echo "               native: $want"
		bad=1
	done <<<"$output"
	return $bad
}

@test "hugetlb: DONTNEED behaves like the kernel or gives its error, and never zeroes wrongly [sim]" { hugepages sim; }
@test "hugetlb: DONTNEED behaves like the kernel or gives its error, and never zeroes wrongly [sim-4.4]" { hugepages sim-4.4; }
@test "hugetlb: DONTNEED behaves like the kernel or gives its error, and never zeroes wrongly [sim-4.4-nodn]" { hugepages sim-4.4-nodn; }
