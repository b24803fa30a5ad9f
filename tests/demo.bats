#!/usr/bin/env bats
# Tests for tools/madvise-demo: natively, under madvise-sim (a kernel without
# madvise) and under madvise-sim with madvise-shim.
#
# Environment (from tests/meson.build): MADVISE_DEMO, MADVISE_SIM,
# MADVISE_SHIM_CMD.

# shellcheck disable=SC2154 # run --separate-stderr sets $stderr and $stderr_lines
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
load lib/host

setup() {
	unset LD_PRELOAD MADVISE_SHIM_MODE
	[ -x "${MADVISE_DEMO:-}" ] || fail "MADVISE_DEMO is not set to the built demo"
}

# Prints the "region resident" MiB of the line for STEP ("touched every page"
# or "after madvise") in the section for ADVICE, from $output.
resident() {  # resident ADVICE STEP
	awk -v advice="$1" -v step="$2" '
		/^MADV_/ { section = $1 }
		section == advice && index($0, "  " step " ") == 1 {
			for (i = 1; i < NF; i++)
				if ($i == "resident") { print $(i + 1); exit }
		}' <<<"$output"
}

lazily_freed() {  # lazily_freed ADVICE
	awk -v advice="$1" '
		/^MADV_/ { section = $1 }
		section == advice && /after madvise/ {
			for (i = 1; i < NF; i++)
				if ($i == "freed") { print $(i + 1); exit }
		}' <<<"$output"
}

# Succeeds when A < B * 10% (decimal numbers).
below_tenth() {
	awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 < (b + 0) / 10) }'
}

assert_memory_returned() {
	local before after
	before=$(resident MADV_DONTNEED "touched every page")
	after=$(resident MADV_DONTNEED "after madvise")
	{ [ -n "$before" ] && [ -n "$after" ]; } || fail "no resident sizes in the output"
	below_tenth "$after" "$before" ||
		fail "MADV_DONTNEED: resident $after MiB after, $before MiB before"
	assert_line --regexp '^  contents +read back as zero$'
	assert_line 'result: memory returned by MADV_DONTNEED and MADV_FREE'
}

@test "natively, the default 256 MiB are returned by both calls" {
	run --separate-stderr "$MADVISE_DEMO"
	assert_success
	assert_equal "$stderr" ''
	assert_line --index 0 --regexp '^madvise-demo: 256 MiB '
	assert_line '  madvise(MADV_DONTNEED) = 0'
	assert_line '  madvise(MADV_FREE) = 0'
	assert_equal "$(resident MADV_DONTNEED "touched every page")" 256.0
	assert_memory_returned
	# MADV_FREE leaves the pages mapped but hands them to the kernel.
	local before after lazy
	before=$(resident MADV_FREE "touched every page")
	after=$(resident MADV_FREE "after madvise")
	lazy=$(lazily_freed MADV_FREE)
	below_tenth "$(awk -v a="$after" -v l="$lazy" 'BEGIN { print a - l }')" "$before" ||
		fail "MADV_FREE: resident $after MiB, lazily freed $lazy MiB, before $before MiB"
}

@test "--mib sets the region size" {
	run --separate-stderr "$MADVISE_DEMO" --mib 16
	assert_success
	assert_line --index 0 --regexp '^madvise-demo: 16 MiB '
	assert_equal "$(resident MADV_DONTNEED "touched every page")" 16.0
	assert_equal "$(resident MADV_FREE "touched every page")" 16.0
	run --separate-stderr "$MADVISE_DEMO" --mib=8
	assert_success
	assert_line --index 0 --regexp '^madvise-demo: 8 MiB '
}

@test "--help prints usage and exits 0" {
	run --separate-stderr "$MADVISE_DEMO" --help
	assert_success
	assert_line --index 0 'usage: madvise-demo [--mib N]'
	assert_equal "$stderr" ''
}

@test "bad arguments exit 2 with one line on stderr" {
	local args
	for args in "--mib 0" "--mib x" "--mib -4" "--mib 12k" "--mib" "--mib=" \
		"--mib 99999999999999999999999" "--bogus" "extra"; do
		# shellcheck disable=SC2086
		run --separate-stderr "$MADVISE_DEMO" $args
		assert_failure 2
		assert_output ''
		assert_equal "${#stderr_lines[@]}" 1
		assert_regex "$stderr" '^madvise-demo: .*usage: madvise-demo \[--mib N\]'
	done
}

@test "exit 1 when only one of the calls fails (strace fault injection)" {
	command -v strace >/dev/null || skip_missing strace strace
	# The demo makes exactly two madvise calls: DONTNEED, then FREE.
	run --separate-stderr strace -f -o /dev/null -e trace=madvise \
		-e inject=madvise:error=ENOSYS:when=2 "$MADVISE_DEMO" --mib 16
	assert_line '  madvise(MADV_DONTNEED) = 0'
	assert_line '  madvise(MADV_FREE) = -1 (ENOSYS: Function not implemented)'
	assert_line 'result: memory NOT returned (MADV_DONTNEED: yes, MADV_FREE: no)'
	assert_failure 1

	run --separate-stderr strace -f -o /dev/null -e trace=madvise \
		-e inject=madvise:error=ENOSYS:when=1 "$MADVISE_DEMO" --mib 16
	assert_failure 1
	assert_line '  madvise(MADV_DONTNEED) = -1 (ENOSYS: Function not implemented)'
	assert_line --regexp '^  contents +old data still there: nothing was discarded$'
	assert_line 'result: memory NOT returned (MADV_DONTNEED: no, MADV_FREE: yes)'
}

@test "under madvise-sim without the shim, madvise fails with ENOSYS and nothing is returned" {
	run --separate-stderr "$MADVISE_SIM" -- "$MADVISE_DEMO" --mib 64
	assert_failure 1
	assert_line '  madvise(MADV_DONTNEED) = -1 (ENOSYS: Function not implemented)'
	assert_line '  madvise(MADV_FREE) = -1 (ENOSYS: Function not implemented)'
	assert_line 'result: memory NOT returned (MADV_DONTNEED: no, MADV_FREE: no)'
	assert_equal "$(resident MADV_DONTNEED "after madvise")" \
		"$(resident MADV_DONTNEED "touched every page")"
}

@test "under madvise-sim with madvise-shim, the memory is returned" {
	# Needs a working libmadvise-shim.so.
	run --separate-stderr "$MADVISE_SIM" -- "$MADVISE_SHIM_CMD" -- "$MADVISE_DEMO" --mib 64
	assert_success
	assert_line '  madvise(MADV_DONTNEED) = 0'
	assert_line '  madvise(MADV_FREE) = 0'
	assert_memory_returned
}
