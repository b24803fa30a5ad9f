#!/usr/bin/env bats
# What libmadvise-shim promises, checked against the native kernel.
#
# Every scenario (tests/c/scenario.c, tests/c/errno_table.c) runs on the
# native kernel first, where the kernel is the oracle, and then under
# madvise-sim with the shim preloaded: by default the simulator makes every
# madvise/process_madvise/fadvise call fail with ENOSYS, and with
# --kernel 4.4 it answers EINVAL for advice newer than Linux 4.4 (MADV_FREE,
# MADV_COLD, ...), so the shim has to tell a missing advice from bad
# arguments.
#
# Run variants, as used in the test names:
#   native      the program alone
#   shim        the shim preloaded, on the native kernel
#   sim         madvise-sim (everything ENOSYS) + the shim
#   sim-4.4     madvise-sim --kernel 4.4 + the shim
#   sim-maps    as sim, mappings found by parsing /proc/self/maps
#               (MADVISE_SHIM_LOOKUP=maps) instead of PROCMAP_QUERY
#   sim-6.6     madvise-sim --kernel 6.6 --deny dontneed,free: DONTNEED and
#               FREE missing, and no PROCMAP_QUERY ioctl (ENOTTY), so the
#               shim must fall back to the maps parser by itself
#   sim-fake    madvise-sim --ignore dontneed: the kernel answers 0 to
#               MADV_DONTNEED and does nothing (as qemu-user did)
#   sim-remap   madvise-sim --kernel 4.4 --deny dontneed: no MREMAP_DONTUNMAP
#               either, so private anonymous memory is remapped in place
#               (mmap MAP_FIXED with the flags read from smaps)

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	load lib/trace
	SCEN="$TEST_PROGS_DIR/madvise-scenario"
	TABLE="$TEST_PROGS_DIR/errno-table"
	# Scenario files go here, never into a shared /tmp.
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# in_variant VARIANT PROGRAM ARGS...: run PROGRAM in one of the variants.
in_variant() {
	local variant=$1
	shift
	case $variant in
	native) "$@" ;;
	shim) env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim) "$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-4.4) "$MADVISE_SIM" --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-maps) "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-6.6) "$MADVISE_SIM" --kernel 6.6 --deny dontneed,free -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-remap) "$MADVISE_SIM" --kernel 4.4 --deny dontneed -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-fake) "$MADVISE_SIM" --ignore dontneed -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	*) echo "unknown variant $variant" >&2; return 2 ;;
	esac
}

# native_needs SUBCOMMAND: skips when the host kernel lacks what the
# scenario's native run checks, since the kernel is the oracle there.
native_needs() {
	case $1 in
	dontneed-locked) need_advice DONTNEED_LOCKED ;;
	populate) need_advice POPULATE_READ POPULATE_WRITE ;;
	guard | guard-many) need_advice GUARD_INSTALL GUARD_REMOVE ;;
	process-madvise) need_feature process_madvise ;;
	esac
}

# scenario VARIANT SUBCOMMAND ARGS...: the scenario passes in that variant.
# Its closing line is required too, so that a run that never reached the
# program (a simulator that exits 0 without running anything) cannot pass.
scenario() {
	local variant=$1
	shift
	[[ $variant != native ]] || native_needs "$1"
	run in_variant "$variant" "$SCEN" "$@"
	# exit status 3: this host cannot give what the scenario needs (a huge
	# page), and its last line says why
	if (( status == 3 )) && [[ ${lines[-1]} == 'skip: host: '* ]]; then
		skip_host "${lines[-1]#skip: host: }"
	fi
	assert_success
	assert_line --regexp "^passed: $1 \\([0-9]+ checks\\)$"
}

# scenario_same VARIANT SUBCOMMAND ARGS...: the scenario passes natively and in
# the variant, and prints the same lines in both ("note" lines aside).
scenario_same() {
	local variant=$1
	shift
	scenario native "$@"
	local native_out
	native_out=$(grep -v '^note ' <<<"$output")
	scenario "$variant" "$@"
	local variant_out
	variant_out=$(grep -v '^note ' <<<"$output")
	same_text "native" "$native_out" "$variant" "$variant_out"
}

# same_text NAME1 TEXT1 NAME2 TEXT2: fail showing a diff unless equal.
same_text() {
	if [[ "$2" != "$4" ]]; then
		echo "output differs between $1 (-) and $3 (+):"
		diff -u --label "$1" --label "$3" <(printf '%s\n' "$2") <(printf '%s\n' "$4")
		return 1
	fi
}

# count_lines FILE REGEX: number of lines of FILE matching REGEX.
count_lines() {
	local n
	n=$(grep -cE -- "$2" "$1") || true
	echo "${n:-0}"
}

need_strace() {
	if ! command -v strace >/dev/null; then
		if [[ $(id -u) -eq 0 ]]; then
			DEBIAN_FRONTEND=noninteractive apt-get install -y strace >/dev/null 2>&1 ||
				{ apt-get update >/dev/null 2>&1 &&
				  DEBIAN_FRONTEND=noninteractive apt-get install -y strace >/dev/null 2>&1; } ||
				fail "strace is missing and apt-get install strace failed"
		else
			skip_missing strace strace
		fi
	fi
}

# ---- the harness itself ---------------------------------------------------

@test "precondition: under madvise-sim without the shim, madvise fails with ENOSYS" {
	run "$MADVISE_SIM" -- "$SCEN" raw dontneed
	assert_success
	assert_output "raw dontneed -1 ENOSYS o"
}

@test "precondition: under madvise-sim --kernel 4.4 without the shim, FREE is EINVAL and DONTNEED works" {
	run "$MADVISE_SIM" --kernel 4.4 -- "$SCEN" raw free
	assert_success
	assert_output "raw free -1 EINVAL o"
	run "$MADVISE_SIM" --kernel 4.4 -- "$SCEN" raw dontneed
	assert_success
	assert_output "raw dontneed 0 0 z"
}

# ---- contents: DONTNEED and FREE zero private anonymous memory ----------

@test "zero dontneed [native]" { scenario native zero dontneed; }
@test "zero dontneed [shim]" { scenario shim zero dontneed; }
@test "zero dontneed [sim]" { scenario sim zero dontneed; }
@test "zero dontneed [sim-4.4]" { scenario sim-4.4 zero dontneed; }
@test "zero free, old contents or zero [native]" { scenario native zero free; }
@test "zero free, old contents or zero [shim]" { scenario shim zero free; }
@test "zero free, emulated: must read zero [sim]" { scenario sim zero free --must-zero; }
@test "zero free, emulated: must read zero [sim-4.4]" { scenario sim-4.4 zero free --must-zero; }
# A transparent huge page needs MADV_HUGEPAGE where THP is in madvise mode
# (Debian's default), and plain madvise-sim answers that with ENOSYS: the
# emulated DONTNEED and FREE inside a huge page are tested on the simulated
# kernels that keep HUGEPAGE (sim-6.6, sim-remap; sim-4.4 for FREE).
@test "zero-thp dontneed: 3 pages inside a transparent huge page [native]" { scenario native zero-thp dontneed; }
@test "zero-thp dontneed: 3 pages inside a transparent huge page [shim]" { scenario shim zero-thp dontneed; }
@test "zero-thp dontneed: 3 pages inside a transparent huge page [sim-6.6]" { scenario sim-6.6 zero-thp dontneed; }
@test "zero-thp dontneed: 3 pages inside a transparent huge page [sim-remap]" { scenario sim-remap zero-thp dontneed; }
@test "zero-thp free: old contents or zero [native]" { scenario native zero-thp free; }
@test "zero-thp free, emulated: must read zero [sim-4.4]" { scenario sim-4.4 zero-thp free --must-zero; }
@test "zero-thp free, emulated: must read zero [sim-6.6]" { scenario sim-6.6 zero-thp free --must-zero; }

# ---- resident memory ------------------------------------------------------

@test "rss: DONTNEED on 256 MiB drops mincore and RssAnon [native]" { scenario native rss dontneed; }
@test "rss: DONTNEED on 256 MiB drops mincore and RssAnon [sim]" { scenario sim rss dontneed; }
@test "rss: emulated FREE on 256 MiB drops mincore and RssAnon [sim-4.4]" { scenario sim-4.4 rss free --must-drop; }

# ---- protections survive ----------------------------------------------------

@test "prot none: stays PROT_NONE, reads fault [native]" { scenario native prot none; }
@test "prot none: stays PROT_NONE, reads fault [sim]" { scenario sim prot none; }
@test "prot read: stays read-only, reads zero, writes fault [native]" { scenario native prot read; }
@test "prot read: stays read-only, reads zero, writes fault [sim]" { scenario sim prot read; }
@test "prot mixed: rw|none|r|rx pages keep their protections [native]" { scenario native prot mixed; }
@test "prot mixed: rw|none|r|rx pages keep their protections [sim]" { scenario sim prot mixed; }
@test "prot none with emulated FREE [sim-4.4]" { scenario sim-4.4 prot none free --must-zero; }
@test "prot mixed with emulated FREE [sim-4.4]" { scenario sim-4.4 prot mixed free --must-zero; }

# ---- shared and file-backed memory -----------------------------------------

@test "shared anon: data kept after DONTNEED, FREE is EINVAL [native]" { scenario native shared anon; }
@test "shared anon: data kept after DONTNEED, FREE is EINVAL [sim]" { scenario sim shared anon; }
@test "shared anon: data kept after DONTNEED, FREE is EINVAL [sim-4.4]" { scenario sim-4.4 shared anon; }
@test "shared file: data kept after DONTNEED, FREE is EINVAL [native]" { scenario native shared file; }
@test "shared file: data kept after DONTNEED, FREE is EINVAL [sim]" { scenario sim shared file; }
@test "shared file: data kept after DONTNEED, FREE is EINVAL [sim-4.4]" { scenario sim-4.4 shared file; }
@test "privfile: copied pages read the file again or the call fails, never zero [native]" { scenario native privfile; }
@test "privfile: copied pages read the file again or the call fails, never zero [sim]" { scenario sim privfile; }
@test "privfile: copied pages read the file again or the call fails, never zero [sim-4.4]" { scenario sim-4.4 privfile; }

# ---- holes --------------------------------------------------------------------

@test "hole dontneed: mapped parts discarded, ENOMEM [native]" { scenario native hole dontneed; }
@test "hole dontneed: mapped parts discarded, ENOMEM [sim]" { scenario sim hole dontneed; }
@test "hole free: ENOMEM [native]" { scenario native hole free; }
@test "hole free: mapped parts zeroed, ENOMEM [sim]" { scenario sim hole free --must-zero; }
@test "hole free: mapped parts zeroed, ENOMEM [sim-4.4]" { scenario sim-4.4 hole free --must-zero; }
@test "hole willneed: contents kept, ENOMEM [native]" { scenario native hole willneed; }
@test "hole willneed: contents kept, ENOMEM [sim]" { scenario sim hole willneed; }
@test "hole cold: contents kept, ENOMEM [sim-4.4]" { scenario sim-4.4 hole cold; }

# ---- mlock ----------------------------------------------------------------------

@test "locked: DONTNEED/FREE are EINVAL, range stays locked [native]" { scenario native locked; }
@test "locked: DONTNEED/FREE are EINVAL, range stays locked [sim]" { scenario sim locked; }
@test "locked: DONTNEED/FREE are EINVAL, range stays locked [sim-4.4]" { scenario sim-4.4 locked; }

# ---- errno ------------------------------------------------------------------------

@test "errno-kept: untouched on success, the error on failure [native]" { scenario native errno-kept; }
@test "errno-kept: same as native [shim]" { scenario_same shim errno-kept; }
@test "errno-kept: same as native [sim]" { scenario_same sim errno-kept; }
@test "errno-kept: same as native [sim-4.4]" { scenario_same sim-4.4 errno-kept; }

# ---- posix_madvise, posix_fadvise, process_madvise ---------------------------------

@test "posix-madvise: DONTNEED does nothing, errors are returned [native]" { scenario native posix-madvise; }
@test "posix-madvise: same as native [sim]" { scenario_same sim posix-madvise; }
@test "posix-madvise: same as native [sim-4.4]" { scenario_same sim-4.4 posix-madvise; }

@test "fadvise: files, pipes, bad fds, bad arguments [native]" { scenario native fadvise; }
@test "fadvise: same as native [sim]" { scenario_same sim fadvise; }
@test "fadvise: same as native [shim]" { scenario_same shim fadvise; }

@test "process-madvise: own pidfd, byte counts, flags [native]" { scenario native process-madvise; }
@test "process-madvise: same as native [sim]" { scenario_same sim process-madvise; }
@test "process-madvise: same as native [sim-4.4]" { scenario_same sim-4.4 process-madvise; }

# ---- hints ----------------------------------------------------------------------------

@test "hints: 0 on mapped ranges, ENOMEM on unmapped ones [native]" { scenario native hints; }
@test "hints: same as native [sim]" { scenario_same sim hints; }
@test "hints: same as native [sim-4.4]" { scenario_same sim-4.4 hints; }

# ---- telling a missing advice from a genuine EINVAL ---------------------------------

@test "probe: genuine EINVALs on a kernel with MADV_FREE [native]" { scenario native probe; }
@test "probe: genuine EINVALs come back as EINVAL [shim]" { scenario shim probe; }
@test "probe: genuine EINVALs come back as EINVAL, valid call first [shim]" { scenario shim probe --valid-first; }
@test "probe: FREE missing, unaligned first: EINVAL, then valid FREE zeroes [sim-4.4]" { scenario sim-4.4 probe --must-zero; }
@test "probe: FREE missing, valid call first [sim-4.4]" { scenario sim-4.4 probe --valid-first --must-zero; }
@test "probe: madvise missing altogether [sim]" { scenario sim probe --must-zero; }

# ---- no repeated failing syscalls ----------------------------------------------------------

@test "repeat: 100 x MADV_FREE under --kernel 4.4 reach the kernel at most twice" {
	need_strace
	local log="$BATS_TEST_TMPDIR/strace.log"
	run strace -f -e trace=madvise -o "$log" \
		"$MADVISE_SIM" --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$SCEN" repeat free 100
	assert_success
	assert_line --regexp '^passed: repeat '
	local n
	n=$(count_lines "$log" 'madvise\(.*MADV_FREE')
	if (( n < 1 || n > 2 )); then
		echo "expected 1 or 2 madvise(MADV_FREE) syscalls (the first call and one probe), saw $n:"
		grep -E 'madvise' "$log" | head -20
		return 1
	fi
}

@test "repeat: 100 x MADV_DONTNEED under ENOSYS reach the kernel once" {
	need_strace
	local log="$BATS_TEST_TMPDIR/strace.log"
	run strace -f -e trace=madvise -o "$log" \
		"$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$SCEN" repeat dontneed 100
	assert_success
	assert_line --regexp '^passed: repeat '
	local n
	n=$(count_lines "$log" '(^|[[:space:]])madvise\(')
	if (( n != 1 )); then
		echo "expected exactly 1 madvise syscall (the first call, which learns ENOSYS), saw $n:"
		grep -E 'madvise' "$log" | head -20
		return 1
	fi
}

@test "repeat: the strace check sees every call when nothing caches (native)" {
	# Guards the two tests above: strace -f through the simulator does see
	# the program's syscalls, so a low count there means something.
	need_strace
	local log="$BATS_TEST_TMPDIR/strace.log"
	run strace -f -e trace=madvise -o "$log" \
		"$MADVISE_SIM" --kernel 4.4 -- "$SCEN" repeat dontneed 100
	assert_success
	assert_line --regexp '^passed: repeat '
	local n
	n=$(count_lines "$log" 'madvise\(.*MADV_DONTNEED')
	(( n == 100 )) || { echo "expected 100 madvise(MADV_DONTNEED) lines, saw $n"; return 1; }
}

# ---- MADVISE_SHIM_MODE ---------------------------------------------------------------------

@test "mode off: calls pass through to the simulator's ENOSYS [sim]" {
	run "$MADVISE_SIM" -- env MADVISE_SHIM_MODE=off LD_PRELOAD="$MADVISE_SHIM_LIB" "$SCEN" raw dontneed
	assert_success
	assert_output "raw dontneed -1 ENOSYS o"
}

@test "mode emulate: DONTNEED zeroes and returns 0 on the native kernel" {
	local log="$BATS_TEST_TMPDIR/emulate.log"
	run env MADVISE_SHIM_MODE=emulate MADVISE_SHIM_LOG="$log" LD_PRELOAD="$MADVISE_SHIM_LIB" \
		"$SCEN" zero dontneed
	assert_success
	assert_line --regexp '^passed: zero '
	# the scenario's two DONTNEED calls, both emulated without the kernel
	assert_all_emulated "$log" 2
}

@test "mode auto, said explicitly: emulates under ENOSYS [sim]" {
	run "$MADVISE_SIM" -- env MADVISE_SHIM_MODE=auto LD_PRELOAD="$MADVISE_SHIM_LIB" "$SCEN" zero dontneed
	assert_success
	assert_line --regexp '^passed: zero '
}

@test "mode bogus: one line on stderr naming the variable, the value and the choices; acts as auto [sim]" {
	run --separate-stderr "$MADVISE_SIM" -- env MADVISE_SHIM_MODE=bogus LD_PRELOAD="$MADVISE_SHIM_LIB" "$SCEN" zero dontneed
	if (( status != 0 )); then
		printf 'status %d\nstdout:\n%s\nstderr:\n%s\n' "$status" "$output" "$stderr"
		return 1
	fi
	assert_line --regexp '^passed: zero '
	if (( ${#stderr_lines[@]} != 1 )); then
		echo "expected exactly one line on stderr, got ${#stderr_lines[@]}:"
		printf '%s\n' "$stderr"
		return 1
	fi
	local word
	for word in MADVISE_SHIM_MODE bogus auto emulate off; do
		[[ $stderr == *"$word"* ]] || { echo "stderr does not mention '$word': $stderr"; return 1; }
	done
}

# ---- the errno table -----------------------------------------------------------------------

@test "errno-table: the native kernel answers as the table documents" {
	run "$TABLE" --check
	assert_success
	assert_line 'unaligned-len0 -1 EINVAL'
}

@test "errno-table: --list names every case that a run prints, once" {
	run "$TABLE" --list
	assert_success
	local listed
	listed=$(awk '{ print $1 }' <<<"$output" | sort)
	run "$TABLE"
	assert_success
	local printed
	printed=$(awk '{ print $1 }' <<<"$output" | sort)
	same_text "--list" "$listed" "run" "$printed"
	[[ -z $(uniq -d <<<"$printed") ]] || { echo "duplicate case names:"; uniq -d <<<"$printed"; return 1; }
	(( $(wc -l <<<"$printed") >= 100 ))
}

# errno_table_same VARIANT [EXCEPTIONS]: the errno table prints the same in
# VARIANT as natively, except for the cases whose names match the regex
# EXCEPTIONS (each use says why).
errno_table_same() {
	local except=${2:-'^$'}
	run "$TABLE"
	assert_success
	local native_out
	native_out=$(grep -vE "^($except) " <<<"$output")
	run in_variant "$1" "$TABLE"
	assert_success
	local variant_out
	variant_out=$(grep -vE "^($except) " <<<"$output")
	same_text native "$native_out" "$1" "$variant_out"
}

@test "errno-table: same as native [shim]" { errno_table_same shim; }
@test "errno-table: same as native [sim]" { errno_table_same sim; }
@test "errno-table: same as native [sim-4.4]" { errno_table_same sim-4.4; }

@test "errno-table: same as native with MADVISE_SHIM_MODE=emulate" {
	run "$TABLE"
	assert_success
	local native_out=$output
	local native_log="$BATS_TEST_TMPDIR/native.log" emulate_log="$BATS_TEST_TMPDIR/emulate.log"
	run env MADVISE_SHIM_MODE=emulate MADVISE_SHIM_LOG="$emulate_log" LD_PRELOAD="$MADVISE_SHIM_LIB" "$TABLE"
	assert_success
	same_text native "$native_out" "emulate" "$output"
	# the same table through the shim in mode auto logs every call it makes;
	# in emulate mode each of them must have been emulated
	run env MADVISE_SHIM_LOG="$native_log" LD_PRELOAD="$MADVISE_SHIM_LIB" "$TABLE"
	assert_success
	assert_all_emulated "$emulate_log" "$(trace_lines "$native_log")"
}

# ---- the other ways of finding mappings and of emptying them ----

@test "precondition: sim-6.6 really lacks PROCMAP_QUERY and DONTNEED, sim-remap lacks DONTUNMAP" {
	run "$MADVISE_SIM" --kernel 6.6 --deny dontneed,free -- "$TEST_PROGS_DIR/try-advice" procmap-query
	assert_output --partial "errno=ENOTTY"
	run "$MADVISE_SIM" --kernel 6.6 --deny dontneed,free -- "$TEST_PROGS_DIR/try-advice" madvise dontneed
	assert_output --partial "errno=EINVAL"
	run "$MADVISE_SIM" --kernel 4.4 --deny dontneed -- "$TEST_PROGS_DIR/try-advice" mremap-dontunmap
	assert_output --partial "errno=EINVAL"
}

@test "zero dontneed [sim-maps]" { scenario sim-maps zero dontneed; }
@test "zero dontneed [sim-6.6]" { scenario sim-6.6 zero dontneed; }
@test "zero dontneed [sim-remap]" { scenario sim-remap zero dontneed; }
@test "zero free, emulated: must read zero [sim-maps]" { scenario sim-maps zero free --must-zero; }
@test "zero free, emulated: must read zero [sim-6.6]" { scenario sim-6.6 zero free --must-zero; }
@test "zero free, emulated: must read zero [sim-remap]" { scenario sim-remap zero free --must-zero; }
@test "rss: DONTNEED on 256 MiB drops mincore and RssAnon [sim-remap]" { scenario sim-remap rss dontneed; }
@test "prot none: stays PROT_NONE, reads fault [sim-remap]" { scenario sim-remap prot none; }
@test "prot read: stays read-only, reads zero, writes fault [sim-remap]" { scenario sim-remap prot read; }
@test "prot mixed: rw|none|r|rx pages keep their protections [sim-remap]" { scenario sim-remap prot mixed; }
@test "prot mixed: rw|none|r|rx pages keep their protections [sim-maps]" { scenario sim-maps prot mixed; }
@test "shared anon: data kept after DONTNEED, FREE is EINVAL [sim-remap]" { scenario sim-remap shared anon; }
@test "shared file: data kept after DONTNEED, FREE is EINVAL [sim-maps]" { scenario sim-maps shared file; }
@test "privfile: copied pages read the file again or the call fails, never zero [sim-remap]" { scenario sim-remap privfile; }
@test "hole dontneed: mapped parts discarded, ENOMEM [sim-maps]" { scenario sim-maps hole dontneed; }
@test "hole dontneed: mapped parts discarded, ENOMEM [sim-remap]" { scenario sim-remap hole dontneed; }
@test "hole free: mapped parts zeroed, ENOMEM [sim-6.6]" { scenario sim-6.6 hole free --must-zero; }
@test "locked: DONTNEED/FREE are EINVAL, range stays locked [sim-remap]" { scenario sim-remap locked; }
@test "locked: DONTNEED/FREE are EINVAL, range stays locked [sim-maps]" { scenario sim-maps locked; }
@test "hints: same as native [sim-maps]" { scenario_same sim-maps hints; }
@test "errno-table: same as native [sim-maps]" { errno_table_same sim-maps; }
@test "errno-table: same as native [sim-6.6]" { errno_table_same sim-6.6; }
# Without MREMAP_DONTUNMAP, private file pages come back from the file itself.
@test "errno-table: same as native [sim-remap]" { errno_table_same sim-remap; }

@test "DONTNEED keeps MAP_NORESERVE (VmFlags nr) [sim-remap]" { scenario sim-remap noreserve; }

@test "DONTNEED keeps MAP_NORESERVE (VmFlags nr) [native]" { scenario native noreserve; }
@test "DONTNEED keeps MAP_NORESERVE (VmFlags nr) [sim]" { scenario sim noreserve; }

@test "fork: the child advises its own new mapping [native]" { scenario native fork free; }
@test "fork: the child advises its own new mapping, zeroed [sim]" { scenario sim fork free --must-zero; }
@test "fork: the child advises its own new mapping, zeroed [sim-maps]" { scenario sim-maps fork free --must-zero; }

# ---- a kernel that fakes success ----

@test "precondition: under --ignore dontneed without the shim, DONTNEED returns 0 and zeroes nothing" {
	run "$MADVISE_SIM" --ignore dontneed -- "$TEST_PROGS_DIR/try-advice" dontneed-zeroes
	assert_output "ret=0 errno=0 zeroed=0"
}
@test "zero dontneed, fake success detected [sim-fake]" { scenario sim-fake zero dontneed; }
@test "rss: DONTNEED on 256 MiB drops mincore and RssAnon, fake success detected [sim-fake]" { scenario sim-fake rss dontneed; }
@test "prot mixed, fake success detected [sim-fake]" { scenario sim-fake prot mixed; }
@test "errno-table: same as native [sim-fake]" { errno_table_same sim-fake; }

@test "repeat: after fake success is detected, DONTNEED reaches the kernel twice at most (the call and one check)" {
	command -v strace >/dev/null || skip_missing strace strace
	local log="$BATS_TEST_TMPDIR/strace.log"
	run strace -f -qq -e trace=madvise -o "$log" \
		"$MADVISE_SIM" --ignore dontneed -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$SCEN" repeat dontneed 100
	assert_success
	local n
	n=$(count_lines "$log" 'MADV_DONTNEED')
	echo "MADV_DONTNEED calls seen by strace: $n"
	[ "$n" -ge 1 ] && [ "$n" -le 2 ]
}

# ---- the emulations of newer advice values ----

@test "dontneed-locked: emptied, still locked, VmLck unchanged [native]" { scenario native dontneed-locked; }
@test "dontneed-locked: emptied, still locked, VmLck unchanged [sim]" { scenario sim dontneed-locked; }
@test "dontneed-locked: emptied, still locked, VmLck unchanged [sim-4.4]" { scenario sim-4.4 dontneed-locked; }
@test "dontneed-locked: emptied, still locked, VmLck unchanged [sim-remap]" { scenario sim-remap dontneed-locked; }
@test "remove: holes in shared files and memfds, the kernel's errors [native]" { scenario native remove; }
@test "remove: holes in shared files and memfds, the kernel's errors [sim]" { scenario sim remove; }
@test "remove: holes in shared files and memfds, the kernel's errors [sim-maps]" { scenario sim-maps remove; }
@test "populate: no byte changed under 8 writing threads, the kernel's errors [native]" { scenario native populate; }
@test "populate: no byte changed under 8 writing threads, the kernel's errors [sim]" { scenario sim populate; }
@test "populate: no byte changed under 8 writing threads, the kernel's errors [sim-4.4]" { scenario sim-4.4 populate; }
@test "guard: guard pages fault, come back empty [native]" { scenario native guard; }
@test "guard: guard pages fault, come back empty [sim]" { scenario sim guard; }
@test "guard: guard pages fault, come back empty [sim-6.6]" { scenario sim-6.6 guard; }
@test "guard: guard pages fault, come back empty [sim-remap]" { scenario sim-remap guard; }
@test "guard-many: 40 guard parts survive mprotect and mremap [native]" { scenario native guard-many; }
@test "guard-many: 40 guard parts survive mprotect and mremap [sim]" { scenario sim guard-many; }
@test "guard-many: 40 guard parts survive mprotect and mremap [sim-6.6]" { scenario sim-6.6 guard-many; }
@test "guard-many: 40 guard parts survive mprotect and mremap [sim-remap]" { scenario sim-remap guard-many; }
# The shim's own failure: a lookup that cannot open /proc/self/maps or smaps
# (every descriptor taken).  Only where each lookup opens the file: with the
# maps parser, chosen or for want of PROCMAP_QUERY; the ioctl's descriptor
# is kept open from the first lookup on.  No native run: the kernel needs no
# lookup there.
@test "guard-nofd: no descriptor for the lookup: mprotect over guards is ENOMEM, no guard opened [sim-maps]" { scenario sim-maps guard-nofd; }
@test "guard-nofd: no descriptor for the lookup: mprotect over guards is ENOMEM, no guard opened [sim-6.6]" { scenario sim-6.6 guard-nofd; }

# ---- resolution of the next definitions ----------------------------------------------------

@test "first calls from a signal handler while another thread holds the loader's lock do not block" {
	# tests/c/first_call.c: a next definition looked up on first use would
	# wait in dlsym for the lock for good; the constructor resolved them all
	export FIRST_CALL_CTOR="$TEST_PROGS_DIR/blocking-ctor.so"
	run timeout 60 "$TEST_PROGS_DIR/first-call"
	assert_success
	local native=$output
	run timeout 60 env LD_PRELOAD="$MADVISE_SHIM_LIB" "$TEST_PROGS_DIR/first-call"
	assert_success
	assert_line 'first-call: done'
	# every call gave what it gives without the shim
	assert_equal "$output" "$native"
}
