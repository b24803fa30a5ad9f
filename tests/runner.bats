#!/usr/bin/env bats
# scripts/run.sh's own rules, without building or running the suites: its
# options (usage errors come before any install or build) and the closing
# summary (scripts/test-summary) read off a made-up meson test log.

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	RUN_SH="$SOURCE_ROOT/scripts/run.sh"
	SUMMARY="$SOURCE_ROOT/scripts/test-summary"
	LOG="$BATS_TEST_TMPDIR/testlog.txt"
	cat >"$LOG" <<'LOG'
==================================== 1/3 ====================================
test:         shim
1..5
ok 1 zero dontneed [native]
ok 2 guard [native] # skip host kernel: no MADV_GUARD_INSTALL (Linux 6.13)
ok 3 guard-many [native] # skip host kernel: no MADV_GUARD_INSTALL (Linux 6.13)
not ok 4 errno-kept [sim]
ok 5 hugetlb [sim] # skip host: no huge pages could be reserved
==================================== 2/3 ====================================
1..2
ok 1 fuzz [sim-4.4] # skip selected: sim-4.4 is not in FUZZ_VARIANTS
ok 2 fuzz [sim]
LOG
}

@test "run.sh: --host-kernel takes X.Y or X.Y.Z, and says so in one line, exit 2" {
	local v
	for v in 6 6. .6 6..1 1.2.3.4 6.x '' 6.1-rc1; do
		run --separate-stderr sh "$RUN_SH" test --host-kernel "$v"
		assert_equal "$status" 2
		assert_equal "$stderr" "run.sh: --host-kernel takes a version X.Y or X.Y.Z, not '$v' (usage: scripts/run.sh demo|test [--host-kernel X.Y]|--help)"
	done
	run --separate-stderr sh "$RUN_SH" test --host-kernel
	assert_equal "$status" 2
	assert_equal "$stderr" "run.sh: option '--host-kernel' needs a version X.Y (usage: scripts/run.sh demo|test [--host-kernel X.Y]|--help)"
	run --separate-stderr sh "$RUN_SH" demo --host-kernel 6.1
	assert_equal "$status" 2
	assert_equal "$stderr" "run.sh: --host-kernel goes with test, not demo (usage: scripts/run.sh demo|test [--host-kernel X.Y]|--help)"
}

@test "run.sh --help names --host-kernel and the skip classes" {
	run sh "$RUN_SH" --help
	assert_success
	assert_line --partial 'scripts/run.sh test --host-kernel X.Y'
	assert_output --partial '"host kernel:"'
	assert_output --partial '"missing:"'
}

@test "summary: each skip reason once with its count, then the closing line" {
	run --separate-stderr env -u CI "$SUMMARY" "$LOG"
	assert_success
	assert_equal "$output" "skipped tests, by reason:
      2 host kernel: no MADV_GUARD_INSTALL (Linux 6.13)
      1 host: no huge pages could be reserved
      1 selected: sim-4.4 is not in FUZZ_VARIANTS
tests: 2 passed, 1 failed, 4 skipped"
	assert_equal "$stderr" ""
}

@test "summary: the status given is the exit status" {
	run env -u CI "$SUMMARY" "$LOG" 7
	assert_equal "$status" 7
	assert_line 'tests: 2 passed, 1 failed, 4 skipped'
}

@test "summary: under CI=true the accepted classes pass, a missing tool or a classless skip fails" {
	run env CI=true "$SUMMARY" "$LOG"
	assert_success
	echo 'ok 3 strace check # skip missing: strace is not installed' >>"$LOG"
	echo 'ok 4 probe # skip MADVISE_SHIM_LIB is not set' >>"$LOG"
	run env -u CI "$SUMMARY" "$LOG"
	assert_success
	run --separate-stderr env CI=true "$SUMMARY" "$LOG"
	assert_failure 1
	assert_line 'tests: 2 passed, 1 failed, 6 skipped'
	assert_equal "$stderr" "test-summary: CI=true: these skips mean something scripts/run.sh should have installed, or a broken harness:
      1 MADVISE_SHIM_LIB is not set
      1 missing: strace is not installed"
	# a failing run keeps its own status
	run env CI=true "$SUMMARY" "$LOG" 3
	assert_equal "$status" 3
}

@test "summary: bad arguments are one-line errors, exit 2" {
	run --separate-stderr "$SUMMARY"
	assert_equal "$status" 2
	assert_equal "$stderr" "test-summary: expected a test log and an optional status, got 0 arguments (usage: scripts/test-summary TESTLOG [STATUS])"
	run --separate-stderr "$SUMMARY" "$BATS_TEST_TMPDIR/none"
	assert_equal "$status" 2
	assert_equal "$stderr" "test-summary: no test log '$BATS_TEST_TMPDIR/none' (usage: scripts/test-summary TESTLOG [STATUS])"
	run --separate-stderr "$SUMMARY" "$LOG" x1
	assert_equal "$status" 2
	assert_equal "$stderr" "test-summary: STATUS takes a whole number, not 'x1' (usage: scripts/test-summary TESTLOG [STATUS])"
}
