#!/usr/bin/env bats
# The shim under memory checkers, and what it leaves behind in a process.
#
#   asan       a copy of the project built with -fsanitize=address,undefined
#              (in setup_file): the C scenarios and the errno table of that
#              build run with its shim preloaded, natively and under its
#              madvise-sim; any AddressSanitizer, LeakSanitizer or UBSan
#              report fails the run.
#   memcheck   valgrind --tool=memcheck over the normal build: scenarios and
#              the errno table with the shim preloaded, natively and under
#              madvise-sim; any error, and any definite leak, fails the run.
#   fds        tests/c/fdcheck.c under madvise-sim: the descriptors the shim
#              keeps open, their close-on-exec flag, and what survives exec.
#   symbols    the library references no allocator or stdio function beyond
#              what tests/exports.bats already rules out.
#
# Variants, as in shim.bats (with the sanitized build's simulator and shim
# in the asan tests):
#   native      the program alone (the oracle of the errno table)
#   shim        the shim preloaded, on the native kernel
#   sim         madvise-sim (madvise, process_madvise, fadvise: ENOSYS) + shim
#   sim-4.4     madvise-sim --kernel 4.4 + the shim
#   sim-maps    as sim, mappings found by parsing /proc/self/maps
#   sim-6.6     madvise-sim --kernel 6.6 --deny dontneed,free: no
#               PROCMAP_QUERY, so the shim falls back to the parser by itself
#   sim-remap   madvise-sim --kernel 4.4 --deny dontneed: no MREMAP_DONTUNMAP,
#               pages are emptied by mapping fresh ones over them (flags
#               read from smaps)
#   sim-fake    madvise-sim --ignore dontneed: DONTNEED answers 0, does nothing
#
# Every program run is wrapped in timeout(1): a hang fails with status 124.
# The whole file took 1.5 to 3 minutes on this project's two busy cores, 10
# to 40 s of it the sanitized build, about a minute memcheck.

# shellcheck disable=SC2154 # run --separate-stderr sets $stderr
bats_require_minimum_version 1.5.0

RUN_TIMEOUT=${RUN_TIMEOUT:-180}

# A sanitizer report, whichever runtime wrote it.
SAN_REPORT='Sanitizer|runtime error:'

setup_file() {
	export SAN_DIR="$BATS_FILE_TMPDIR/asan"
	export SAN_LOG="$BATS_FILE_TMPDIR/asan-build.log"
	export SAN_SKIP="" SAN_FAILED="" SAN_RT="" SAN_MLOCKPASS="" SAN_BAD=""
	local cc=${CC:-cc} t0=$SECONDS

	# A program with one bug per argument, for the preconditions: the
	# options below do turn each kind of report into a failure.
	SAN_BAD="$BATS_FILE_TMPDIR/bad"
	cat >"$BATS_FILE_TMPDIR/bad.c" <<-'EOF'
		#include <limits.h>
		#include <stdio.h>
		#include <stdlib.h>
		#include <string.h>
		int main(int argc, char **argv)
		{
			if (argc < 2)
				return 2;
			if (!strcmp(argv[1], "leak")) {
				char *volatile p = malloc(100);
				p[0] = 1;
				p = NULL;
			} else if (!strcmp(argv[1], "overflow")) {
				/* 9 bytes into 8: "overflow" and its NUL */
				char *p = malloc(8);
				strcpy(p, argv[1]);
				printf("%d\n", p[0]);
				free(p);
			} else if (!strcmp(argv[1], "ub")) {
				printf("%d\n", INT_MAX - 1 + atoi("2"));
			}
			return 0;
		}
	EOF
	"$cc" -g -O1 -o "$SAN_BAD-plain" "$BATS_FILE_TMPDIR/bad.c" >"$BATS_FILE_TMPDIR/bad.log" 2>&1

	# errno-table's main() never frees its pattern array (calloc,
	# tests/c/errno_table.c): a leak of the test program, 8 bytes, not of
	# the shim, which allocates nothing.  Matched by the module's name, which
	# needs no symbolizer: clang's runtime runs llvm-symbolizer as a child,
	# which inherits LD_PRELOAD and cannot load the sanitized shim.
	export LSAN_SUPP="$BATS_FILE_TMPDIR/lsan.supp"
	echo 'leak:/tests/errno-table' >"$LSAN_SUPP"

	# valgrind does not know the PROCMAP_QUERY ioctl (Linux 6.11; valgrind
	# 3.19 here): it marks the argument struct as written by the kernel,
	# but not the name buffer the struct points to, which the kernel fills
	# too.  The shim's reads of that name (kind_of) then look like uses of
	# uninitialised stack memory.  Only those are suppressed; the same
	# programs run with MADVISE_SHIM_LOOKUP=maps (sim-maps), where every
	# byte comes through read(2), without it.
	export VG_SUPP="$BATS_FILE_TMPDIR/memcheck.supp"
	cat >"$VG_SUPP" <<-'EOF'
		{
		   procmap-query-name-filled-by-the-kernel
		   Memcheck:Cond
		   ...
		   fun:kind_of*
		   ...
		   fun:procmap_query
		}
		{
		   procmap-query-name-filled-by-the-kernel-addr
		   Memcheck:Value8
		   ...
		   fun:kind_of*
		   ...
		   fun:procmap_query
		}
		{
		   errno-table-pattern-array-never-freed
		   Memcheck:Leak
		   match-leak-kinds: definite
		   fun:calloc
		   fun:main
		}
	EOF
	# Both sanitizers' runtimes must link and run, or nothing here means
	# anything: a compiler without libasan/libubsan (gcc without
	# libasan8, clang without compiler-rt) is skipped, not failed.
	local probe="$BATS_FILE_TMPDIR/probe"
	if ! echo 'int main(void) { return 0; }' |
		"$cc" -fsanitize=address,undefined -x c - -o "$probe" >"$SAN_LOG" 2>&1; then
		SAN_SKIP="missing: $cc cannot link -fsanitize=address,undefined (its ASan or UBSan runtime is missing: $(tail -1 "$SAN_LOG"))"
		return 0
	fi
	if ! "$probe" >>"$SAN_LOG" 2>&1; then
		SAN_SKIP="host: a program built with $cc -fsanitize=address,undefined does not run here: $(tail -1 "$SAN_LOG")"
		return 0
	fi

	# Only the four targets these tests use are built.
	if ! { meson setup -Db_sanitize=address,undefined -Db_lundef=false \
			"$SAN_DIR" "$SOURCE_ROOT" &&
		ninja -C "$SAN_DIR" shim/libmadvise-shim.so tools/madvise-sim \
			tests/madvise-scenario tests/errno-table; } >>"$SAN_LOG" 2>&1; then
		SAN_FAILED="the sanitized build failed: $SAN_LOG"
		return 0
	fi

	# The preload order.  gcc links its ASan runtime as a shared library
	# (libasan.so.N is DT_NEEDED by every sanitized object, the shim
	# included), and that runtime insists on being the first object after
	# the executable: with LD_PRELOAD=shim alone it stops at start-up with
	# "ASan runtime does not come first in initial library list".  So the
	# runtime goes first, then the shim.  Calls still reach the shim: ASan
	# does not intercept madvise, and its mmap/mprotect interceptors pass
	# on to the next definition, which is the shim's, so the shim's map
	# tracking sees every mapping.  (clang links its runtime statically
	# into the executable, which then comes first anyway: SAN_RT stays
	# empty and only the shim is preloaded.)
	SAN_RT=$(ldd "$SAN_DIR/tests/madvise-scenario" | awk '$1 ~ /^libasan\.so/ { print $3 }')

	# ASan ignores mlock, mlockall, munlock and munlockall: its interceptors
	# return 0 without locking anything (so that its huge shadow mappings
	# are never locked).  With the runtime first, the shim never sees a
	# lock and the kernel never makes one: the scenarios that check locked
	# memory fail the same way without the shim.  They run with a second
	# order, "shim, mlock pass-through, runtime", with the order check
	# turned off: the program's mlock goes to the shim (which notes the
	# lock), then to a two-function library that makes the system call.
	# Nothing else is defined before the runtime but the shim's own entry
	# points, which forward to the runtime's interceptors.
	if [[ -n $SAN_RT ]]; then
		SAN_MLOCKPASS="$BATS_FILE_TMPDIR/libmlockpass.so"
		cat >"$BATS_FILE_TMPDIR/mlockpass.c" <<-'EOF'
			#include <stddef.h>
			#include <sys/syscall.h>
			#include <unistd.h>
			int mlock(const void *a, size_t n) { return (int)syscall(SYS_mlock, a, n); }
			int munlock(const void *a, size_t n) { return (int)syscall(SYS_munlock, a, n); }
		EOF
		"$cc" -shared -fPIC -O1 -o "$SAN_MLOCKPASS" "$BATS_FILE_TMPDIR/mlockpass.c" >>"$SAN_LOG" 2>&1 ||
			SAN_FAILED="building libmlockpass.so failed: $SAN_LOG"
	fi

	"$cc" -fsanitize=address,undefined -g -O1 -o "$SAN_BAD" "$BATS_FILE_TMPDIR/bad.c" >>"$SAN_LOG" 2>&1 ||
		SAN_FAILED="building the precondition program failed: $SAN_LOG"
	echo "# sanitized build: $((SECONDS - t0)) s" >&3
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	unset LD_PRELOAD MADVISE_SHIM_MODE MADVISE_SHIM_LOOKUP MADVISE_SHIM_LOG MADVISE_SHIM_STATS
	export TMPDIR="$BATS_TEST_TMPDIR"
	SAN_SCEN="$SAN_DIR/tests/madvise-scenario"
	SAN_TABLE="$SAN_DIR/tests/errno-table"
	SAN_SIM="$SAN_DIR/tools/madvise-sim"
	SAN_SHIM="$SAN_DIR/shim/libmadvise-shim.so"
	# Every report fails the run with exit status 66: ASan and LSan stop
	# at their first report anyway, UBSan would go on without
	# halt_on_error.  (One status for all: clang's runtime holds all three
	# and its UBSAN_OPTIONS exitcode overrides ASAN_OPTIONS's.)  LSan works
	# under the simulator: the seccomp filter only refuses the advice
	# calls, and LSan's ptrace of its own threads is untouched (it would
	# not work under strace or gdb, which nothing here uses).
	export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:exitcode=66:detect_leaks=1"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=66"
	export LSAN_OPTIONS="suppressions=$LSAN_SUPP:print_suppressions=0"
	SAN_ORDER=first
}

need_asan() {
	[[ -z $SAN_SKIP ]] || skip "$SAN_SKIP"
	[[ -z $SAN_FAILED ]] || fail "$SAN_FAILED
$(tail -30 "$SAN_LOG")"
}

# The value of LD_PRELOAD for the sanitized programs: with the shim (WITH=1)
# or without, in the order SAN_ORDER: "first" (the runtime first, the
# default) or "mlock" (the mlock pass-through before the runtime).
san_preload() {
	local with=$1
	if [[ $SAN_ORDER == mlock ]]; then
		echo "${with:+$SAN_SHIM }$SAN_MLOCKPASS $SAN_RT"
	else
		echo "${SAN_RT:+$SAN_RT }${with:+$SAN_SHIM}"
	fi
}

# san_variant VARIANT PROGRAM ARGS...: run PROGRAM of the sanitized build.
san_variant() {
	local variant=$1 pre
	shift
	pre=$(san_preload 1)
	local -a t=(timeout --kill-after=10 "$RUN_TIMEOUT")
	case $variant in
	native) "${t[@]}" env LD_PRELOAD="$(san_preload '')" "$@" ;;
	shim) "${t[@]}" env LD_PRELOAD="$pre" "$@" ;;
	sim) "${t[@]}" "$SAN_SIM" -- env LD_PRELOAD="$pre" "$@" ;;
	sim-4.4) "${t[@]}" "$SAN_SIM" --kernel 4.4 -- env LD_PRELOAD="$pre" "$@" ;;
	sim-maps) "${t[@]}" "$SAN_SIM" -- env MADVISE_SHIM_LOOKUP=maps LD_PRELOAD="$pre" "$@" ;;
	sim-6.6) "${t[@]}" "$SAN_SIM" --kernel 6.6 --deny dontneed,free -- env LD_PRELOAD="$pre" "$@" ;;
	sim-remap) "${t[@]}" "$SAN_SIM" --kernel 4.4 --deny dontneed -- env LD_PRELOAD="$pre" "$@" ;;
	sim-fake) "${t[@]}" "$SAN_SIM" --ignore dontneed -- env LD_PRELOAD="$pre" "$@" ;;
	*) echo "unknown variant $variant" >&2; return 2 ;;
	esac
}

# san_check VARIANT PROGRAM ARGS...: PROGRAM exits with 0 in VARIANT and
# nothing on stderr is a sanitizer's report.
san_check() {
	local variant=$1
	shift
	run --separate-stderr san_variant "$variant" "$@"
	if ((status != 0)) || grep -qE "$SAN_REPORT" <<<"$stderr"; then
		printf '%s (%s order): %s\nexit status %d (66: a sanitizer report, 124: timeout)\n' \
			"$variant" "$SAN_ORDER" "$*" "$status"
		printf -- '--- stderr\n%s\n--- stdout (last 20 lines)\n%s\n' "$stderr" "$(tail -20 <<<"$output")"
		return 1
	fi
}

# san_scenario VARIANTS SUBCOMMAND ARGS...: the sanitized scenario passes,
# closing line included, in each of the comma-separated VARIANTS.
san_scenario() {
	local variants=$1 v
	shift
	for v in ${variants//,/ }; do
		san_check "$v" "$SAN_SCEN" "$@"
		assert_line --regexp "^passed: $1 \\([0-9]+ checks\\)$"
	done
}

# same_text NAME1 TEXT1 NAME2 TEXT2: fail showing a diff unless equal.
same_text() {
	if [[ "$2" != "$4" ]]; then
		echo "output differs between $1 (-) and $3 (+):"
		diff -u --label "$1" --label "$3" <(printf '%s\n' "$2") <(printf '%s\n' "$4")
		return 1
	fi
}

# ---- asan: the harness can fail --------------------------------------------

@test "asan precondition: the sanitized shim is instrumented, and it is the madvise the scenarios call [sim]" {
	need_asan
	run sh -c "nm -D --undefined-only '$SAN_SHIM' | awk '{ print \$2 }' | sed 's/@.*//'"
	assert_success
	assert_line --regexp '^__asan_(report|load|store)'
	assert_line --regexp '^__ubsan_handle_'
	san_check sim "$SAN_SCEN" which
	assert_line "ok madvise comes from $SAN_SHIM"
}

@test "asan precondition: a leak, an overflow and a signed overflow each fail a run under sim + shim" {
	need_asan
	local kind
	for kind in leak overflow ub; do
		run --separate-stderr san_variant sim "$SAN_BAD" "$kind"
		case $kind in
		leak) assert_equal "$status" 66
			[[ $stderr == *"ERROR: LeakSanitizer: detected memory leaks"* ]] || fail "no LSan report: $stderr" ;;
		overflow) assert_equal "$status" 66
			[[ $stderr == *"ERROR: AddressSanitizer: heap-buffer-overflow"* ]] || fail "no ASan report: $stderr" ;;
		ub) assert_equal "$status" 66
			[[ $stderr == *"runtime error: signed integer overflow"* ]] || fail "no UBSan report: $stderr" ;;
		esac
	done
	san_check sim "$SAN_BAD" none
}

@test "asan precondition: with the runtime first, mlock is ignored (so locked memory is tested in the mlock order)" {
	need_asan
	[[ -n $SAN_RT ]] || skip_host "the ASan runtime is linked statically: no preload order can let mlock through"
	run --separate-stderr san_variant native "$SAN_SCEN" locked
	assert_failure 1
	[[ $stderr == *"FAIL locked: mlocked range has VmFlags lo"* ]] || fail "unexpected: $stderr"
	SAN_ORDER=mlock
	export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
	san_check native "$SAN_SCEN" locked
	assert_line --regexp '^passed: locked '
}

# ---- asan: the scenarios -------------------------------------------------------

@test "asan: zero dontneed/free [shim, sim, sim-4.4, sim-maps, sim-6.6, sim-remap, sim-fake]" {
	need_asan
	san_scenario shim zero dontneed
	san_scenario shim zero free
	san_scenario sim,sim-maps,sim-6.6,sim-remap,sim-fake zero dontneed
	san_scenario sim,sim-4.4,sim-maps,sim-6.6,sim-remap zero free --must-zero
}

@test "asan: rss, 256 MiB emptied [sim, sim-4.4, sim-remap]" {
	need_asan
	san_scenario sim,sim-remap rss dontneed
	san_scenario sim-4.4 rss free --must-drop
}

# The children of these scenarios touch PROT_NONE and read-only pages on
# purpose, and must die of SIGSEGV: ASan's own SIGSEGV handler would turn
# that into a report and exit status 66.
@test "asan: prot none/read/mixed, guard-many [sim, sim-4.4, sim-maps, sim-6.6, sim-remap]" {
	need_asan
	export ASAN_OPTIONS="$ASAN_OPTIONS:handle_segv=0"
	san_scenario sim,sim-remap prot none
	san_scenario sim,sim-remap prot read
	san_scenario sim,sim-maps,sim-remap prot mixed
	san_scenario sim-4.4 prot mixed free --must-zero
	san_scenario sim,sim-6.6,sim-remap guard-many
}

@test "asan: shared anon/file, privfile [shim, sim, sim-4.4, sim-maps, sim-remap]" {
	need_asan
	san_scenario shim,sim,sim-4.4 shared anon
	san_scenario shim,sim,sim-maps shared file
	san_scenario shim,sim,sim-4.4,sim-remap privfile
}

@test "asan: holes, ENOMEM [sim, sim-4.4, sim-maps, sim-6.6, sim-remap]" {
	need_asan
	san_scenario sim,sim-maps,sim-remap hole dontneed
	san_scenario sim,sim-4.4,sim-6.6 hole free --must-zero
	san_scenario sim hole willneed
	san_scenario sim-4.4 hole cold
}

@test "asan: errno-kept, posix-madvise, fadvise, process-madvise, hints, raw-syscall [shim, sim, sim-4.4, sim-maps]" {
	need_asan
	local s
	for s in errno-kept posix-madvise fadvise process-madvise hints raw-syscall; do
		san_scenario shim,sim "$s"
	done
	san_scenario sim-4.4 process-madvise
	san_scenario sim-4.4,sim-maps hints
}

@test "asan: repeat, noreserve, fork, threads [sim, sim-4.4, sim-maps, sim-remap, sim-fake]" {
	need_asan
	san_scenario sim,sim-fake repeat dontneed 100
	san_scenario sim-4.4 repeat free 100
	san_scenario sim,sim-remap noreserve
	san_scenario sim,sim-maps fork free --must-zero
	san_scenario sim,sim-remap threads dontneed 200
}

@test "asan: remove, populate [shim, sim, sim-4.4, sim-maps]" {
	need_asan
	san_scenario shim,sim,sim-maps remove
	san_scenario shim,sim,sim-4.4 populate
}

# Scenarios that lock memory, in the mlock order (see setup_file); guard
# also faults on purpose in children.
@test "asan: locked, dontneed-locked, probe, guard with mlock passed through [sim, sim-4.4, sim-maps, sim-6.6, sim-remap]" {
	need_asan
	[[ -n $SAN_RT ]] || skip_host "the ASan runtime is linked statically: mlock cannot reach the kernel"
	SAN_ORDER=mlock
	export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0:handle_segv=0"
	san_scenario sim,sim-4.4,sim-maps,sim-remap locked
	san_scenario sim,sim-4.4,sim-remap dontneed-locked
	san_scenario sim,sim-4.4 probe --must-zero
	san_scenario sim-4.4 probe --valid-first --must-zero
	san_scenario sim,sim-6.6,sim-remap guard
}

# ---- asan: the errno table -----------------------------------------------------

# With the runtime first, mlock is a no-op in every run, the native one
# included, so the sanitized native run is the oracle.  In the mlock order
# the locks are real, and the unsanitized native run is the oracle.
@test "asan: errno-table, same as the sanitized native run [shim, sim, sim-4.4, sim-maps, sim-fake]" {
	need_asan
	san_check native "$SAN_TABLE"
	local native_out=$output v
	for v in shim sim sim-4.4 sim-maps sim-fake; do
		san_check "$v" "$SAN_TABLE"
		same_text native "$native_out" "$v" "$output"
	done
}

@test "asan: errno-table with mlock passed through, same as the unsanitized native run [native, sim, sim-6.6, sim-remap]" {
	need_asan
	[[ -n $SAN_RT ]] || skip_host "the ASan runtime is linked statically: mlock cannot reach the kernel"
	run timeout "$RUN_TIMEOUT" "$TEST_PROGS_DIR/errno-table"
	assert_success
	local native_out=$output v
	SAN_ORDER=mlock
	export ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0"
	for v in native sim sim-6.6 sim-remap; do
		san_check "$v" "$SAN_TABLE"
		same_text native "$native_out" "$v" "$output"
	done
}

# ---- memcheck ------------------------------------------------------------------

need_valgrind() {
	command -v valgrind >/dev/null || skip_missing valgrind valgrind
}

# vg_variant VARIANT PROGRAM ARGS...: PROGRAM of the normal build under
# memcheck, one log per process in $VG_LOGS.
vg_variant() {
	local variant=$1
	shift
	local -a vg=(valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
		--errors-for-leak-kinds=definite --suppressions="$VG_SUPP" --num-callers=30
		--log-file="$VG_LOGS/vg.%p.log")
	local -a t=(timeout --kill-after=10 "$RUN_TIMEOUT")
	case $variant in
	shim) "${t[@]}" env LD_PRELOAD="$MADVISE_SHIM_LIB" "${vg[@]}" "$@" ;;
	sim) "${t[@]}" "$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "${vg[@]}" "$@" ;;
	sim-maps) "${t[@]}" "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps \
		LD_PRELOAD="$MADVISE_SHIM_LIB" "${vg[@]}" "$@" ;;
	*) echo "unknown variant $variant" >&2; return 2 ;;
	esac
}

# vg_check VARIANT PROGRAM ARGS...: exit status 0 and, in the log of every
# process (forked children included), no error and no definite leak.
vg_check() {
	local variant=$1
	shift
	VG_LOGS=$(mktemp -d "$BATS_TEST_TMPDIR/vg-$variant.XXXXXX")
	run --separate-stderr vg_variant "$variant" "$@"
	local bad="" f
	for f in "$VG_LOGS"/vg.*.log; do
		[[ -e $f ]] || { bad="no valgrind log at all"; break; }
		grep -q 'ERROR SUMMARY: 0 errors' "$f" && ! grep -qE 'definitely lost: [1-9]' "$f" ||
			bad="$bad $f"
	done
	if ((status != 0)) || [[ -n $bad ]]; then
		printf '%s: %s\nexit status %d (99: memcheck found errors)\n' "$variant" "$*" "$status"
		printf -- '--- stderr\n%s\n--- stdout (last 10 lines)\n%s\n' "$stderr" "$(tail -10 <<<"$output")"
		for f in $bad; do
			[[ -e $f ]] && printf -- '--- %s\n%s\n' "$f" "$(grep -v '^==[0-9]*== *$' "$f" | tail -60)"
		done
		[[ $bad == "no valgrind log"* ]] && echo "$bad"
		return 1
	fi
}

vg_scenario() {
	local variants=$1 v
	shift
	for v in ${variants//,/ }; do
		vg_check "$v" "$TEST_PROGS_DIR/madvise-scenario" "$@"
		assert_line --regexp "^passed: $1 \\([0-9]+ checks\\)$"
	done
}

need_bad_plain() {
	[[ -x $SAN_BAD-plain ]] || fail "the precondition program was not built: $(cat "$BATS_FILE_TMPDIR/bad.log")"
}

@test "memcheck precondition: a definite leak and a heap overflow fail a run under sim + shim" {
	need_valgrind
	need_bad_plain
	run ! vg_check sim "$SAN_BAD-plain" leak
	assert_output --partial "definitely lost: 100 bytes in 1 blocks"
	run ! vg_check sim "$SAN_BAD-plain" overflow
	assert_output --partial "Invalid write of size"
	vg_check sim "$SAN_BAD-plain" none
}

# Not here: prot (its children fault on purpose, an error in their logs),
# guard under the simulator (the same: its child reads an emulated guard, a
# PROT_NONE page memcheck knows of, where the kernel's guard is invisible
# to it; covered by ASan above),
# errno-kept and process-madvise (valgrind 3.19 has no pidfd_open), fadvise
# (valgrind answers fadvise64 on an O_PATH descriptor itself), rss, threads
# and guard-many (slow under valgrind: 160 forks; covered by ASan above,
# which also sees overruns of the shim's static tables, memcheck does not).
@test "memcheck: scenarios, no error and no definite leak [shim]" {
	need_valgrind
	vg_scenario shim zero free
	vg_scenario shim locked
	vg_scenario shim remove
	vg_scenario shim guard
}

@test "memcheck: scenarios, no error and no definite leak [sim]" {
	need_valgrind
	vg_scenario sim zero free --must-zero
	vg_scenario sim privfile
	vg_scenario sim hole free --must-zero
	vg_scenario sim locked
	vg_scenario sim dontneed-locked
	vg_scenario sim remove
	vg_scenario sim populate
	vg_scenario sim fork free --must-zero
}

@test "memcheck: scenarios, no error and no definite leak [sim-maps]" {
	need_valgrind
	vg_scenario sim-maps zero free --must-zero
	vg_scenario sim-maps privfile
	vg_scenario sim-maps hole willneed
	vg_scenario sim-maps locked
	vg_scenario sim-maps dontneed-locked
	vg_scenario sim-maps remove
	vg_scenario sim-maps populate
	vg_scenario sim-maps fork free --must-zero
}

@test "memcheck: errno-table, no error, same as native [shim, sim, sim-maps]" {
	need_valgrind
	run timeout "$RUN_TIMEOUT" "$TEST_PROGS_DIR/errno-table"
	assert_success
	local native_out=$output v
	for v in shim sim sim-maps; do
		vg_check "$v" "$TEST_PROGS_DIR/errno-table"
		same_text native "$native_out" "$v" "$output"
	done
}

# ---- file descriptors ------------------------------------------------------------

# only_std_fds COMMAND...: COMMAND with descriptors 0, 1 and 2 only (bats
# keeps others open for itself).
only_std_fds() {
	local fd
	for fd in "/proc/$BASHPID/fd/"*; do
		fd=${fd##*/}
		if ((fd > 2)); then
			eval "exec $fd>&-"
		fi
	done
	timeout --kill-after=10 "$RUN_TIMEOUT" "$@"
}

# fd_verdict: in $output of fdcheck, for the process and for its child of
# fork: no descriptor it did not open was there when main began, at most
# one appeared since, and that one is close-on-exec and the process's own
# /proc/PID/maps (the shim's PROCMAP_QUERY descriptor).  After exec only 0,
# 1 and 2 are open.
fd_verdict() {
	assert_success
	local who pfx pid n line
	for who in parent child; do
		pfx=""
		[[ $who == child ]] && pfx="child "
		pid=$(sed -n "s/^${pfx}pid //p" <<<"$output")
		[[ -n $pid ]] || fail "no '${pfx}pid' line"
		refute_line --regexp "^${pfx}fd [0-9]+ at-start "
		n=$(sed -n "s/^${pfx}foreign: //p" <<<"$output")
		if [[ -z $n ]] || ((n > 1)); then
			fail "$who: ${n:-no} descriptors the program did not open (at most 1)"
		fi
		while read -r line; do
			[[ -z $line ]] && continue
			[[ $line =~ ^${pfx}fd\ [0-9]+\ foreign\ cloexec=1\ /proc/$pid/maps$ ]] ||
				fail "$who: a descriptor that is not the shim's close-on-exec /proc/$pid/maps: $line"
		done < <(grep -E "^${pfx}fd [0-9]+ foreign " <<<"$output")
	done
	assert_line "after-exec: 0 descriptors besides 0, 1, 2"
}

@test "fds precondition: without the shim under madvise-sim, fdcheck's calls fail with ENOSYS" {
	run --separate-stderr only_std_fds "$MADVISE_SIM" -- "$TEST_PROGS_DIR/fdcheck"
	assert_failure 1
	[[ $stderr == *"FAIL DONTNEED on private anonymous memory: returned -1, errno 38"* ]] ||
		fail "unexpected stderr: $stderr"
	# and natively, without the shim, it leaves nothing: the harness's own
	# descriptors are not counted against the shim (fdcheck checks its calls'
	# results too, so the host kernel must have them all)
	need_advice DONTNEED_LOCKED POPULATE_READ
	run only_std_fds "$TEST_PROGS_DIR/fdcheck"
	fd_verdict
	assert_line "foreign: 0"
	assert_line "child foreign: 0"
}

@test "fds: every lookup path is emulated (trace) [sim]" {
	local log="$BATS_TEST_TMPDIR/trace.log"
	run only_std_fds "$MADVISE_SIM" -- env MADVISE_SHIM_LOG="$log" \
		LD_PRELOAD="$MADVISE_SHIM_LIB" "$TEST_PROGS_DIR/fdcheck"
	assert_success
	# where mlock is refused or /dev/shm is no tmpfs, fdcheck says so
	# ("note" lines) and leaves that call out
	local want
	for want in 'advice=DONTNEED .* map=anon .*action=emulated' \
		'advice=FREE .* map=anon .*action=emulated' \
		'advice=DONTNEED_LOCKED .* map=anon .*action=emulated' \
		'advice=DONTNEED .* map=file:.*action=emulated' \
		'advice=REMOVE .* map=shared-file:/memfd:fdcheck .*action=emulated:punch-hole' \
		'advice=REMOVE .* map=shared-file:/dev/shm/fdcheck-.*action=emulated:punch-hole' \
		'advice=POPULATE_READ .* map=anon .*action=emulated' \
		'advice=POPULATE_READ .* map=file:.*action=emulated'; do
		if [[ $want == *DONTNEED_LOCKED* && $output == *"note mlock failed"* ]] ||
			[[ $want == */dev/shm* && $output == *"note /dev/shm is not a tmpfs"* ]]; then
			continue
		fi
		grep -qE "$want" "$log" || fail "no trace line matches '$want':
$(cat "$log")"
	done
}

@test "fds: one close-on-exec maps descriptor at most, none after exec [sim, lookup auto]" {
	run only_std_fds "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=auto \
		LD_PRELOAD="$MADVISE_SHIM_LIB" "$TEST_PROGS_DIR/fdcheck"
	fd_verdict
}

@test "fds: one close-on-exec maps descriptor at most, none after exec [sim-maps, lookup maps]" {
	run only_std_fds "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps \
		LD_PRELOAD="$MADVISE_SHIM_LIB" "$TEST_PROGS_DIR/fdcheck"
	fd_verdict
}

# Without PROCMAP_QUERY, the shim opens its maps descriptor for the first
# query, learns ENOTTY and parses /proc/self/maps from then on: the
# descriptor, kept for the ioctl alone, is closed then, in parent and child.
@test "fds: no descriptor kept where there is no PROCMAP_QUERY, none after exec [sim-6.6]" {
	run only_std_fds "$MADVISE_SIM" --kernel 6.6 \
		--deny dontneed,free,dontneed_locked,remove,populate_read -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" "$TEST_PROGS_DIR/fdcheck"
	fd_verdict
	assert_line "foreign: 0"
	assert_line "child foreign: 0"
}

# ---- symbols -----------------------------------------------------------------------
# tests/exports.bats already refuses malloc, calloc, realloc, free,
# aligned_alloc, posix_memalign, strdup, fopen, fprintf, printf, snprintf,
# sprintf, puts, fputs and getenv.  Here: the rest of the allocating
# functions and of stdio, their fortified (_chk) and internal (_IO_, __libc_)
# forms, and the stdio streams.  strerror is allowed: the shim calls it once,
# for the message about a log file it cannot open.

NOT_REFERENCED='^(strndup|__strdup|__strndup|asprintf|vasprintf|__asprintf_chk|__vasprintf_chk|reallocarray|memalign|valloc|pvalloc|cfree|malloc_usable_size|__libc_(malloc|calloc|realloc|free|memalign)|realpath|canonicalize_file_name|get_current_dir_name|getline|getdelim|__getdelim|opendir|fdopendir|closedir|readdir|readdir64|scandir|scandir64|tmpfile|tmpfile64|popen|open_memstream|fmemopen|tempnam|fopen64|fdopen|freopen|freopen64|fclose|fflush|fwrite|fread|fputc|putc|putchar|fgets|fgetc|getc|vfprintf|vprintf|vsnprintf|vsprintf|dprintf|vdprintf|perror|setvbuf|setbuf|fileno|fputs_unlocked|fwrite_unlocked|putc_unlocked|fputc_unlocked|stdin|stdout|stderr|_IO_[a-z_]+|__(overflow|uflow|underflow)|__[a-z]*printf_chk|__fgets_chk|__fread_chk)$'

# undefined_names LIB: the symbols LIB takes from elsewhere, versions cut.
undefined_names() {
	nm -D --undefined-only "$1" | awk '{ print $2 }' | sed 's/@.*//'
}

@test "symbols: no other allocating or stdio function is referenced, and the check can see one" {
	command -v nm >/dev/null || skip_missing nm binutils
	local probe="$BATS_TEST_TMPDIR/libprobe.so"
	printf '%s\n' '#include <stdio.h>' '#include <stdlib.h>' '#include <dirent.h>' \
		'void f(const char *s) { char *p; if (asprintf(&p, "%s", s) > 0) fwrite(p, 1, 1, stderr); opendir(s); }' |
		cc -shared -fPIC -O1 -x c - -o "$probe"
	run undefined_names "$probe"
	assert_success
	assert_line --regexp "$NOT_REFERENCED"
	run undefined_names "$MADVISE_SHIM_LIB"
	assert_success
	assert_line memset # the list is not empty
	refute_line --regexp "$NOT_REFERENCED"
}
