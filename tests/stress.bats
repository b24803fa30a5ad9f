#!/usr/bin/env bats
# The shim under load: many threads, fork storms, signals, vfork, and calls
# made before its own constructor has run.  The promise checked is the one
# every other suite takes for granted: the shim is never the reason a program
# crashes, hangs, loses a write or reads memory it should not.
#
# tests/c/stress.c does the work (see its header for the page layout and the
# checks); every run here is bounded in count and wrapped in timeout(1), so a
# deadlock fails the test with status 124 instead of hanging the suite.
#
# Variants, as in shim.bats:
#   native      the program alone: the kernel is the oracle
#   sim         madvise-sim (no madvise at all, ENOSYS) + the shim
#   sim-maps    as sim, mappings found by parsing /proc/self/maps
#   sim-remap   madvise-sim --kernel 4.4 --deny dontneed,dontfork,dofork: no
#               MREMAP_DONTUNMAP and no PROCMAP_QUERY, so pages are emptied
#               by mapping fresh ones over them, with flags read from smaps,
#               and fork advice is emulated too
#   sim-fake    madvise-sim --ignore dontneed: DONTNEED answers 0, does nothing
#
# Runs under a race detector (helgrind, ThreadSanitizer) are at the end.

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	STRESS="$TEST_PROGS_DIR/madvise-stress"
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# A hang guard, not a timing assertion: a run that has not finished long
# after it should have is a deadlock or a livelock.
STRESS_TIMEOUT=${STRESS_TIMEOUT:-300}

in_variant() {
	local variant=$1
	shift
	case $variant in
	native) "$@" ;;
	sim) "$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-maps) "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-remap) "$MADVISE_SIM" --kernel 4.4 --deny dontneed,dontfork,dofork -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	sim-fake) "$MADVISE_SIM" --ignore dontneed -- env LD_PRELOAD="$MADVISE_SHIM_LIB" "$@" ;;
	*) echo "unknown variant $variant" >&2; return 2 ;;
	esac
}

# stress VARIANT SUBCOMMAND ARGS...: the workload passes, closing line included.
stress() {
	local variant=$1
	shift
	run timeout --kill-after=10 "$STRESS_TIMEOUT" \
		bash -c "$(declare -f in_variant); in_variant \"\$@\"" in_variant \
		"$variant" "$STRESS" "$@"
	if [[ $status -eq 124 || $status -eq 137 ]]; then
		echo "$variant $*: still running after ${STRESS_TIMEOUT}s: a deadlock or livelock"
	fi
	assert_success
	assert_line --regexp "^passed: $1 \\([0-9]+ checks\\)$"
}

# ---- the harness can fail ----------------------------------------------------

@test "precondition: without the shim under madvise-sim, the threads workload fails" {
	run timeout 120 "$MADVISE_SIM" -- "$STRESS" threads dontneed 64 --sentinels 1
	assert_failure 1
	assert_output --partial "ENOSYS"
}

@test "precondition: madvise-sim --ignore dontneed without the shim: the advised pages keep their data" {
	run timeout 120 "$MADVISE_SIM" --ignore dontneed -- "$STRESS" threads dontneed 64 --sentinels 1
	assert_failure 1
	assert_output --partial "reads its data (expected zero)"
}

# ---- 1. concurrency ---------------------------------------------------------------
# 16 advisor threads empty random ranges of their own cells (often the pages
# next to a sentinel page) while 4 threads rewrite and re-check the sentinel
# pages between the cells, and mapper threads map, advise WIPEONFORK/
# KEEPONFORK on, and unmap memory of their own, so that the shim's table of
# fork advice is in use and every mmap, munmap and mremap takes its lock.

@test "threads: 10000 DONTNEED/FREE calls by 16 threads, sentinels intact [native]" {
	stress native threads mixed 10000 --mappers 1
}

@test "threads: 100000 emulated DONTNEED/FREE calls by 16 threads, no lost write [sim]" {
	stress sim threads mixed 100000 --must-zero --sentinels 2
}

@test "threads: 10000 calls with the fork table in use (every mremap under its lock) [sim]" {
	stress sim threads mixed 10000 --must-zero --sentinels 2 --mappers 2
}

@test "threads: 5000 calls, mappings found in /proc/self/maps [sim-maps]" {
	stress sim-maps threads mixed 5000 --must-zero --sentinels 2 --mappers 1
}

@test "threads: 5000 calls, pages emptied by mapping over them [sim-remap]" {
	stress sim-remap threads mixed 5000 --must-zero --sentinels 2 --mappers 1
}

@test "threads: 2000 DONTNEED calls where the kernel fakes success [sim-fake]" {
	stress sim-fake threads dontneed 2000 --must-zero --sentinels 2 --mappers 1
}

# ---- 2a. fork storms -----------------------------------------------------------------
# 1000 forks while 2 threads advise their cells (a mix of DONTNEED and FREE,
# until the storm is over), a sentinel thread writes next to them and a
# mapper changes the fork table (so the advisors' mremap and munmap contend
# with fork's prepare handler for its lock).  Each child checks that the WIPEONFORK range
# reads zero, the DONTFORK range is unmapped and other memory is intact;
# every 50th forks a grandchild that checks the same after writing the range.

@test "fork-storm: 100 forks while threads advise [native]" {
	stress native fork-storm 100 --threads 2 --sentinels 1 --mappers 1
}

@test "fork-storm: 1000 forks while threads are inside emulation [sim]" {
	stress sim fork-storm 1000 --threads 2 --sentinels 1 --mappers 1 --must-zero
}

@test "fork-storm: 100 forks, children wiped by mapping fresh pages [sim-remap]" {
	stress sim-remap fork-storm 100 --threads 2 --sentinels 1 --mappers 1 --must-zero
}

# ---- 2a'. descriptors across fork ---------------------------------------------------
# An emulated madvise makes the shim open /proc/self/maps.  The program then
# closes every descriptor above stderr, as daemons do, opens a file and dups
# it onto descriptors 3-12 (one of them is the number the shim had), and
# forks 20 times: each child writes a byte to each descriptor.  Then another
# process's /proc/PID/maps goes onto those numbers, and madvise(FREE) of the
# program's own pages must still succeed.

@test "fork-fds: the program's descriptors survive fork and are never the shim's [native]" {
	stress native fork-fds 20
}

@test "fork-fds: the program's descriptors survive fork and are never the shim's [sim]" {
	stress sim fork-fds 20 --must-zero
}

@test "fork-fds: the program's descriptors survive fork and are never the shim's [sim-maps]" {
	stress sim-maps fork-fds 20 --must-zero
}

# ---- 1b. guards ----------------------------------------------------------------------------
# One thread installs and removes guards on random runs of 31 pages, one
# mprotects random runs of all 32 to PROT_READ or PROT_READ|PROT_WRITE, one
# reads page 0 (a guard throughout: every read must fault, even while mprotect
# is changing the pages around it), one forks (each child checks page 0 is
# still a guard; half the pages are WIPEONFORK, so that fork and the guard
# emulation contend for both of the shim's locks).  At the end, with every
# other guard removed, no page may be left PROT_NONE and each must hold its
# data or zeros.  The library before commit "guard: every step under the
# lock" fails this under sim: page 0 readable, children reading it.

@test "guards: install, remove, mprotect and fork race, a guard is never readable [native]" {
	need_advice GUARD_INSTALL GUARD_REMOVE
	stress native guards 20000
}

@test "guards: install, remove, mprotect and fork race, a guard is never readable [sim]" {
	stress sim guards 20000
}

@test "guards: the same with the maps parser [sim-maps]" {
	stress sim-maps guards 5000
}

@test "guards: the same with guard pages emptied by mapping over them [sim-remap]" {
	stress sim-remap guards 5000
}

# ---- 1c. cancellation and re-entry inside the guard lock ------------------------------------
# Each round a thread loops mprotect over 8 emulated guard parts (the shim
# reads smaps for each, under its guard lock) and another cancels it, at the
# thread's 1st to 3rd call after a varying spin; then the main thread's
# mprotect over the guards must return 0.  A thread cancelled inside the lock
# leaves it held and that mprotect waits for good: the library before
# ranges_lock disabled cancellation hangs in the first round.  At the end a
# fork must return and leave cancellation enabled on both sides, and
# GUARD_REMOVE must give every guard page back empty.

# stress_hang_killed VARIANT SUBCOMMAND ARGS...: as stress, but a run still
# going after 120 s (about a second of work: a hang guard, not a timing
# assertion) is killed with SIGKILL, it and everything in its process group.
# A program waiting on the guard lock has every signal blocked (ranges_lock
# blocks them before it waits), so timeout's SIGTERM would end only the shell
# around it and leave it running, holding bats' output pipe open for good.
stress_hang_killed() {
	local variant=$1
	shift
	run timeout --signal=KILL 120 \
		bash -c "$(declare -f in_variant); in_variant \"\$@\"" in_variant \
		"$variant" "$STRESS" "$@"
	if ((status == 137)); then
		echo "$variant $*: still running after 120 s: a deadlock (killed)"
	fi
	assert_success
	assert_line --regexp "^passed: $1 \\([0-9]+ checks\\)$"
}

# stress_hang_killed_env ENV SUBCOMMAND ARGS...: the same under madvise-sim
# with the environment ENV (a LD_PRELOAD of more than the shim) instead.
stress_hang_killed_env() {
	local env=$1
	shift
	run timeout --signal=KILL 120 "$MADVISE_SIM" -- env "$env" "$STRESS" "$@"
	if ((status == 137)); then
		echo "$env $*: still running after 120 s: a deadlock (killed)"
	fi
	assert_success
	assert_line --regexp "^passed: $1 \\([0-9]+ checks\\)$"
}

@test "cancel: threads cancelled inside mprotect over guards, the program's own oracle [native]" {
	need_advice GUARD_INSTALL GUARD_REMOVE
	stress_hang_killed native cancel 300
}

@test "cancel: threads cancelled inside mprotect over emulated guards leave no lock held [sim]" {
	stress_hang_killed sim cancel 300
	assert_line --regexp '^ok cancel: the target ended cancelled in each of 300 rounds '
	assert_line 'ok cancel: main'"'"'s mprotect over the guards returned 0, errno kept, after each round'
	assert_line 'ok cancel: a fork returns, and its child has cancellation enabled'
}

@test "cancel: the same with the maps parser [sim-maps]" {
	stress_hang_killed sim-maps cancel 200
}

# The guard lock may be taken again by its holder.  A preloaded library whose
# constructor runs before the shim's registers its pthread_atfork handlers
# first, so fork runs its prepare handler after the shim's (the guard lock
# held) and its parent and child handlers before the shim's (still held).
# Each maps and unmaps a page, which the shim's munmap follows under the
# guard lock while emulated guards exist: a lock its holder cannot take
# again makes that fork wait for itself, for good.
@test "guard lock: atfork handlers of other code unmap memory while fork holds it [sim]" {
	local src="$BATS_TEST_TMPDIR/atfork.c" lib="$BATS_TEST_TMPDIR/libatfork.so"
	cat >"$src" <<'EOF'
/* fork handlers registered before the shim's, each mapping and unmapping a
 * page; exit status 3 if either call fails. */
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

static void churn(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, pg) != 0)
		_exit(3);
}

__attribute__((constructor)) static void early(void)
{
	pthread_atfork(churn, churn, churn);
}
EOF
	run cc -shared -fPIC -O1 -pthread -o "$lib" "$src"
	assert_success
	# the guards workload forks (guards 400: 3 times) with a guard in place
	stress_hang_killed_env "LD_PRELOAD=$MADVISE_SHIM_LIB:$lib" guards 400
	assert_line --regexp '^ok guards: forker thread, 3 rounds, no failure$'
}

# ---- 2b. signals --------------------------------------------------------------------------
# The main loop calls madvise (DONTNEED and FREE on its pages, a call over a
# hole that must give ENOMEM, WIPEONFORK/KEEPONFORK toggles that take the
# shim's lock) while a thread sends it SIGUSR1 once per iteration and a
# one-shot timer sends SIGALRM; both handlers call madvise(DONTNEED) on a page
# of their own, check it reads zero, and do not save errno.  The handlers are
# installed without SA_RESTART.

@test "signals: handlers call madvise while the loop is inside it [native]" {
	stress native signals mixed 1000
}

@test "signals: handlers call emulated madvise inside emulated madvise [sim]" {
	stress sim signals mixed 2000 --must-zero
}

@test "signals: the same with the maps parser [sim-maps]" {
	stress sim-maps signals mixed 1000 --must-zero
}

@test "signals: the same with smaps reads and fresh mappings [sim-remap]" {
	stress sim-remap signals mixed 1000 --must-zero
}

# ---- 2c. vfork and posix_spawn ------------------------------------------------------------

@test "vfork: vfork+exec, vfork+_exit and posix_spawn with fork advice in use [native]" {
	stress native vfork 20 --threads 2 --sentinels 1 --mappers 1
}

@test "vfork: vfork+exec, vfork+_exit and posix_spawn with fork advice in use [sim]" {
	stress sim vfork 40 --threads 2 --sentinels 1 --mappers 1 --must-zero
}

# ---- 2d. madvise before the shim's constructor ----------------------------------------------
# A library whose constructor calls madvise, preloaded so that its
# constructor runs before the shim's.  glibc runs the constructors of
# preloaded libraries in the reverse order of LD_PRELOAD, so the library has
# to come after the shim there; its madvise still binds to the shim, which is
# earlier in the lookup scope.  Both facts are checked with LD_DEBUG, then the
# constructor's own checks must pass on a kernel without madvise.

early_lib() {
	local src="$BATS_TEST_TMPDIR/early.c"
	EARLY="$BATS_TEST_TMPDIR/libearly.so"
	cat >"$src" <<'EOF'
/* A constructor that needs madvise before anything else has run. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *s)
{
	ssize_t r = write(2, s, strlen(s));
	(void)r;
}

static void fail(const char *s)
{
	say("early: FAIL ");
	say(s);
	say("\n");
	_exit(3);
}

static int all(const char *p, size_t n, char c)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

__attribute__((constructor)) static void early(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 6 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap");
	memset(p, 'e', 6 * pg);
	if (madvise(p, pg, MADV_DONTNEED) != 0)
		fail("madvise(DONTNEED) failed");
	if (!all(p, pg, 0) || !all(p + pg, pg, 'e'))
		fail("DONTNEED: the page is not zero or its neighbour changed");
	say("early: ok DONTNEED emptied the page\n");
	/* a kernel with MADV_FREE may keep the page until memory runs short;
	 * the shim's emulation empties it (EARLY_MUST_ZERO=1) */
	const char *must = getenv("EARLY_MUST_ZERO");
	if (madvise(p + pg, pg, MADV_FREE) != 0)
		fail("madvise(FREE) failed");
	if (!(all(p + pg, pg, 0) || (!must && all(p + pg, pg, 'e'))) || !all(p + 2 * pg, pg, 'e'))
		fail("FREE: the page is not zero or its neighbour changed");
	say(must ? "early: ok FREE emptied the page\n" : "early: ok FREE returned 0\n");
	if (madvise(p + 2 * pg, 2 * pg, MADV_WIPEONFORK) != 0 ||
	    madvise(p + 4 * pg, 2 * pg, MADV_DONTFORK) != 0)
		fail("madvise(WIPEONFORK or DONTFORK) failed");
	pid_t pid = fork();
	if (pid == 0) {
		unsigned char v;
		_exit(!all(p + 2 * pg, 2 * pg, 0) ? 1 : mincore(p + 4 * pg, pg, &v) == 0 ? 2 : 0);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		fail("the child of fork did not find WIPEONFORK zero and DONTFORK unmapped");
	if (!all(p + 2 * pg, 4 * pg, 'e'))
		fail("the parent's WIPEONFORK or DONTFORK range changed");
	say("early: ok the child of fork saw WIPEONFORK zero and DONTFORK unmapped\n");
}
EOF
	run cc -shared -fPIC -O1 -o "$EARLY" "$src"
	assert_success
}

# init_index OUTPUT LIBRARY: the line number of "calling init: LIBRARY".
init_index() {
	grep -n "calling init: .*$2\$" <<<"$1" | head -1 | cut -d: -f1
}

@test "early constructor: with LD_PRELOAD=shim:early, the early library's constructor runs first" {
	early_lib
	run env LD_DEBUG=libs LD_PRELOAD="$MADVISE_SHIM_LIB:$EARLY" "$STRESS" exit-code 0
	assert_success
	local early shim
	early=$(init_index "$output" libearly.so)
	shim=$(init_index "$output" "$(basename "$MADVISE_SHIM_LIB")")
	[[ -n $early && -n $shim ]] || fail "no 'calling init' lines for both libraries: $output"
	((early < shim)) || fail "the shim's constructor ran first (lines $shim and $early)"
	run env LD_DEBUG=bindings LD_PRELOAD="$MADVISE_SHIM_LIB:$EARLY" "$STRESS" exit-code 0
	assert_success
	assert_output --regexp "binding file [^ ]*libearly.so \\[0\\] to [^ ]*$(basename "$MADVISE_SHIM_LIB") \\[0\\]: normal symbol \`madvise'"
}

@test "early constructor: madvise before the shim's constructor works on a kernel without madvise [sim]" {
	early_lib
	run timeout 60 "$MADVISE_SIM" -- env EARLY_MUST_ZERO=1 LD_PRELOAD="$MADVISE_SHIM_LIB:$EARLY" "$STRESS" exit-code 0
	assert_success
	assert_line "early: ok DONTNEED emptied the page"
	assert_line "early: ok FREE emptied the page"
	assert_line "early: ok the child of fork saw WIPEONFORK zero and DONTFORK unmapped"
}

@test "early constructor: the same with the maps parser and with the remap fallbacks [sim-maps, sim-remap]" {
	early_lib
	run timeout 60 "$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps EARLY_MUST_ZERO=1 \
		LD_PRELOAD="$MADVISE_SHIM_LIB:$EARLY" "$STRESS" exit-code 0
	assert_success
	assert_line "early: ok the child of fork saw WIPEONFORK zero and DONTFORK unmapped"
	run timeout 60 "$MADVISE_SIM" --kernel 4.4 --deny dontneed,dontfork,dofork -- \
		env EARLY_MUST_ZERO=1 LD_PRELOAD="$MADVISE_SHIM_LIB:$EARLY" "$STRESS" exit-code 0
	assert_success
	assert_line "early: ok FREE emptied the page"
	assert_line "early: ok the child of fork saw WIPEONFORK zero and DONTFORK unmapped"
}

@test "early constructor: with LD_PRELOAD=early:shim the shim's constructor runs first, and all works [sim]" {
	early_lib
	run env LD_DEBUG=libs LD_PRELOAD="$EARLY:$MADVISE_SHIM_LIB" "$STRESS" exit-code 0
	assert_success
	local early shim
	early=$(init_index "$output" libearly.so)
	shim=$(init_index "$output" "$(basename "$MADVISE_SHIM_LIB")")
	((shim < early)) || fail "expected the shim's constructor first (lines $shim and $early)"
	run timeout 60 "$MADVISE_SIM" -- env EARLY_MUST_ZERO=1 LD_PRELOAD="$EARLY:$MADVISE_SHIM_LIB" "$STRESS" exit-code 0
	assert_success
	assert_line "early: ok the child of fork saw WIPEONFORK zero and DONTFORK unmapped"
}

# ---- race detectors ---------------------------------------------------------------------
# helgrind sees every access, the shim's included.  The shim's two locks, the
# fork table's (shim/emulate/fork.c: lock_owner, lock_depth, live, tables) and the
# guard table's (shim/emulate/guard.c: guards), are futex locks of shim/mem/ranges.c,
# which tells helgrind when each is taken and given back (valgrind's client
# requests), and that the guard table's count is read without the lock on
# purpose.  So an access to those tables that their lock does not order is a
# race here, as the bugs fixed in commit 1b5f86f were.
#
# What remains are atomics read without a lock on purpose.  Each entry of
# HELGRIND_KNOWN is "SYMBOLS FUNCTIONS" (extended regexps): a race on one of
# the symbols passes only if every access of the report made with no lock held
# is in one of the functions.  --history-level=full is what shows the other
# access, with its stack and its locks.  helgrind keeps the last access of
# each thread to an address, so the other access it shows may be a later one
# made under the lock than the lockless one that raced: a report where both
# hold a lock passes, since a lockless access outside the list is reported
# in its own right when it is the second of a pair.  Any other race (on
# another symbol of the shim, on the heap or a stack, in the test program),
# and any other kind of error (lock order, save HELGRIND_KNOWN_ORDER, misuse
# of the pthread API), fails.
HELGRIND_KNOWN=(
	# hold() reads the owner unlocked to tell a nested taking: only the thread that stored its id finds it there
	'lock_owner hold'
	# overlaps_unlocked() reads the fork table unlocked and drops its answer if table_seq moved meanwhile
	'live|tables overlaps_unlocked'
	# the learnt facts (core/dispatch.c, mem/empty.c): atomics filled once, each thread that finds out storing the same value
	'have_dontunmap|have_dontunmap_file|have_thp|have_ksm fact_cached|empty_can_move|empty_known_move|empty_moved'
	# the maps parser's buffer, taken by an acquiring exchange on big_chunk_busy, given back by a release store
	'big_chunk|big_chunk_busy walk_maps_file|(__GI___libc_|__libc_)?read'
)
# Lock order inversions that are not bugs, by a function on the stack of the
# acquisition helgrind finds out of order: in fork_child, the child of fork
# has one thread, and takes the guard lock (guard_lift) inside the fork
# table's, which the prepare handler took after it.
HELGRIND_KNOWN_ORDER='fork_child'

# helgrind_verdict LOG: fails on anything but the known races and inversions.
helgrind_verdict() {
	local log=$1 known
	grep -q "ERROR SUMMARY" "$log" || fail "helgrind wrote no summary: $(tail -20 "$log")"
	known=$(IFS=';'; echo "${HELGRIND_KNOWN[*]}")
	HG_KNOWN=$known HG_ORDER=$HELGRIND_KNOWN_ORDER awk '
		BEGIN {
			n = split(ENVIRON["HG_KNOWN"], entry, ";")
			for (i = 1; i <= n; i++) {
				split(entry[i], f, " ")
				syms[i] = "^(" f[1] ")$"; fns[i] = "^(" f[2] ")$"
			}
			order = "^(" ENVIRON["HG_ORDER"] ")$"
		}
		# the function of a frame line, without the suffixes of gcc clones
		function frame_fn(line) {
			sub(/^ *(at|by) 0x[0-9A-Fa-f]+: /, "", line)
			sub(/ \(.*/, "", line)
			sub(/\.(constprop|isra|part|cold)(\.[0-9]+)*$/, "", line)
			return line
		}
		function race_known(   i, j) {
			for (i = 1; i <= n; i++) {
				if (sym !~ syms[i])
					continue
				for (j = 1; j <= accesses; j++)
					if (!held[j] && fn[j] !~ fns[i])
						return 0
				return i
			}
			return 0
		}
		function flush(   k) {
			if (head == "") return
			if (head ~ /lock order .* violated/) {
				if (order_known) seen["lock order in " order_known]++
				else { bad++; print "lock order: " head; print body }
			} else if (head !~ /^Possible data race/) {
				bad++; print "not a data race: " head; print body
			} else if (sym == "") {
				bad++; print "race outside a named symbol: " head; print body
			} else if (!(k = race_known())) {
				bad++; print "race on " sym ", accesses without a lock in:" lockless ": " head; print body
			} else {
				seen[entry[k]]++
			}
			head = ""; body = ""; sym = ""; lines = 0; accesses = 0; lockless = ""
			want = 0; observed = 0; order_known = ""
		}
		{ sub(/^==[0-9]+== ?/, "") }
		/^---Thread-Announcement/ { flush(); inerr = 0; next }
		/^-+$/ && length($0) >= 20 { flush(); inerr = 1; next }
		inerr && head == "" && /^[A-Z]/ { head = $0; next }
		# lock descriptions before the first error line name their own symbol
		!inerr || head == "" { next }
		/^Locks held: / {
			held[++accesses] = $0 !~ /none/; fn[accesses] = ""; want = 1
		}
		want && /^ *at 0x/ {
			fn[accesses] = frame_fn($0); want = 0
			if (!held[accesses]) lockless = lockless " " fn[accesses]
		}
		/^Observed \(incorrect\) order/ { observed = 1 }
		/^Required order/ { observed = 0 }
		observed && /^ *(at|by) 0x/ && frame_fn($0) ~ order { order_known = frame_fn($0) }
		sym == "" && /^ *Address .* inside data symbol "/ {
			s = $0; sub(/.*inside data symbol "/, "", s); sub(/".*/, "", s); sym = s
		}
		/ERROR SUMMARY/ { flush(); inerr = 0 }
		++lines < 60 { body = body "\n  " $0 }
		END {
			flush()
			for (s in seen) printf "known: %s: %d reports\n", s, seen[s]
			exit bad > 0
		}' "$log"
}

# The shim's locks carry helgrind's client requests only where the build
# found valgrind/helgrind.h (Debian's valgrind ships it): without them every
# access they order would be reported.
need_helgrind() {
	command -v valgrind >/dev/null || skip_missing valgrind valgrind
	grep -qe '-DSHIM_HAVE_HELGRIND' "$BUILD_ROOT/compile_commands.json" ||
		skip "the shim was built without valgrind/helgrind.h: its locks are invisible to helgrind"
}

@test "helgrind: threads under the shim, every access to its tables under their lock [sim]" {
	need_helgrind
	local log="$BATS_TEST_TMPDIR/helgrind.log"
	run timeout --kill-after=10 "$STRESS_TIMEOUT" "$MADVISE_SIM" -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" valgrind --tool=helgrind --history-level=full \
		--log-file="$log" "$STRESS" threads mixed 500 --must-zero --sentinels 2 --mappers 1
	assert_success
	assert_line --regexp '^passed: threads '
	run helgrind_verdict "$log"
	assert_success
}

@test "helgrind: guards racing mprotect and fork under the shim, same verdict [sim]" {
	need_helgrind
	local log="$BATS_TEST_TMPDIR/helgrind-%p.log"
	run timeout --kill-after=10 "$STRESS_TIMEOUT" "$MADVISE_SIM" -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" valgrind --tool=helgrind --history-level=full \
		--log-file="$log" "$STRESS" guards 300
	assert_success
	assert_line --regexp '^passed: guards '
	local f n=0
	for f in "$BATS_TEST_TMPDIR"/helgrind-*.log; do
		run helgrind_verdict "$f"
		assert_success
		n=$((n + 1))
	done
	((n == 3)) || fail "expected the logs of the program and its 2 children, found $n"
}

@test "helgrind: signals and fork under the shim, same verdict [sim]" {
	need_helgrind
	local log="$BATS_TEST_TMPDIR/helgrind-%p.log"
	run timeout --kill-after=10 "$STRESS_TIMEOUT" "$MADVISE_SIM" -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" valgrind --tool=helgrind --history-level=full \
		--log-file="$log" "$STRESS" fork-storm 20 --threads 2 --sentinels 1 --mappers 1 --must-zero
	assert_success
	run timeout --kill-after=10 "$STRESS_TIMEOUT" "$MADVISE_SIM" -- \
		env LD_PRELOAD="$MADVISE_SHIM_LIB" valgrind --tool=helgrind --history-level=full \
		--log-file="$log" "$STRESS" signals mixed 200 --must-zero
	assert_success
	local f
	for f in "$BATS_TEST_TMPDIR"/helgrind-*.log; do
		run helgrind_verdict "$f"
		assert_success
	done
}

# ThreadSanitizer instruments only the test program: the shim, not rebuilt,
# is invisible to it except through the calls it intercepts.  It still sees
# races the shim would cause in the program's memory, and errno changed by a
# signal handler.  Its own runtime calls madvise(MADV_DONTDUMP) by raw
# syscall, which the simulated kernel refuses: use_madv_dontdump=0.
tsan_build() {
	command -v clang >/dev/null || skip_missing clang clang
	TSAN_STRESS="$BATS_TEST_TMPDIR/madvise-stress-tsan"
	run clang -fsanitize=thread -g -O1 -D_GNU_SOURCE -I"$SOURCE_ROOT/shim" -I"$SOURCE_ROOT/shim/sys" -pthread \
		-o "$TSAN_STRESS" "$SOURCE_ROOT/tests/c/stress.c"
	assert_success
}

@test "tsan: threads and signals of an instrumented program under the shim: no report [sim]" {
	tsan_build
	# tsan.supp: the shim's own atomics, which TSan cannot see, order its
	# uses of the maps parser's shared read buffer (kernels before 6.11).
	local opts="use_madv_dontdump=0 halt_on_error=1 exitcode=66 suppressions=$SOURCE_ROOT/tests/tsan.supp"
	run timeout --kill-after=10 "$STRESS_TIMEOUT" "$MADVISE_SIM" -- \
		env TSAN_OPTIONS="$opts" LD_PRELOAD="$MADVISE_SHIM_LIB" \
		"$TSAN_STRESS" threads mixed 3000 --must-zero --sentinels 2 --mappers 1
	assert_success
	refute_output --partial "ThreadSanitizer"
	run timeout --kill-after=10 "$STRESS_TIMEOUT" "$MADVISE_SIM" -- \
		env TSAN_OPTIONS="$opts" LD_PRELOAD="$MADVISE_SHIM_LIB" \
		"$TSAN_STRESS" signals mixed 600 --must-zero
	assert_success
	refute_output --partial "ThreadSanitizer"
}
