#!/usr/bin/env bats
# The differential fuzzer (tests/c/fuzz.c): FUZZ_CASES random cases of seed
# FUZZ_SEED run natively (the oracle), under madvise-sim with the shim
# (madvise, process_madvise and fadvise missing: ENOSYS) and under
# madvise-sim --kernel 4.4 with the shim (newer advice EINVAL, no
# process_madvise, no MREMAP_DONTUNMAP, no PROCMAP_QUERY).  The records must
# agree but for the approximations the shim documents, which the comparator
# (madvise-fuzz --compare) knows by name; and no emulated run may fail a
# security check (madvise-fuzz --security).  Every mismatch is printed with
# the commands that rerun just that case.
#
# All three runs happen once, concurrently, in setup_file.
#
# Environment:
#   FUZZ_SEED    the seed (a fixed one by default, so CI is repeatable)
#   FUZZ_CASES   how many cases (20000); FUZZ_CASES=1000000 is the long run
#                of docs/reliability.md (run it outside meson's timeout, or
#                with meson test --timeout-multiplier 0)
#   FUZZ_BATCH   cases per worker process (100)
#   FUZZ_OUT     a directory that keeps the records and reports
#   FUZZ_SHOW    how many mismatches to print in full (20)
#   FUZZ_VARIANTS  the simulated kernels run besides native ("sim sim-4.4");
#                the tests of the others are skipped (a long run on two
#                cores: "sim" alone)

bats_require_minimum_version 1.5.0

ALL_SIMULATED="sim sim-4.4"

# selected VARIANT: the variant runs in this session (native always does).
selected() {
	[[ $1 == native || " ${FUZZ_VARIANTS-$ALL_SIMULATED} " == *" $1 "* ]]
}

# wrap VARIANT: sets WRAP to the command prefix of the variant.
wrap() {
	case $1 in
	native) WRAP=() ;;
	sim) WRAP=("$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	sim-4.4) WRAP=("$MADVISE_SIM" --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	*) echo "unknown variant $1" >&2; return 2 ;;
	esac
}

run_variant() {
	local v=$1 rc=0 t0=$SECONDS
	local -a WRAP
	wrap "$v"
	mkdir -p "$RECORDS/tmp-$v"
	TMPDIR="$RECORDS/tmp-$v" "${WRAP[@]}" "$FUZZ" --seed "$FUZZ_SEED" --cases "$FUZZ_CASES" \
		--batch "$FUZZ_BATCH" >"$RECORDS/$v.rec" 2>"$RECORDS/$v.err" || rc=$?
	echo "$rc $((SECONDS - t0))s" >"$RECORDS/$v.status"
}

setup_file() {
	export FUZZ="$TEST_PROGS_DIR/madvise-fuzz"
	export FUZZ_SEED=${FUZZ_SEED:-1517}
	export FUZZ_CASES=${FUZZ_CASES:-20000}
	export FUZZ_BATCH=${FUZZ_BATCH:-100}
	export RECORDS=${FUZZ_OUT:-$BATS_FILE_TMPDIR/records}
	local v
	local -a variants=(native)
	for v in ${FUZZ_VARIANTS-$ALL_SIMULATED}; do
		case " $ALL_SIMULATED " in
		*" $v "*) variants+=("$v") ;;
		*) echo "FUZZ_VARIANTS: unknown variant '$v' (accepted: $ALL_SIMULATED)" >&2
		   return 1 ;;
		esac
	done
	mkdir -p "$RECORDS"
	# tests/resources.bats changes global limits (vm.overcommit_memory=2
	# drops MAP_NORESERVE from new mappings): not while these run
	local lock_fd=
	{ exec {lock_fd}>>/tmp/madvise-shim-resources.lock; } 2>/dev/null ||
		{ exec {lock_fd}</tmp/madvise-shim-resources.lock; } 2>/dev/null || lock_fd=
	if [[ -z $lock_fd ]] || ! flock -s -w 590 "$lock_fd"; then
		echo "# running without the resources lock" >&3
	fi
	for v in "${variants[@]}"; do
		run_variant "$v" &
	done
	wait
	[[ -z $lock_fd ]] || exec {lock_fd}>&-
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# ran VARIANT: the run ended with status 0 and printed one record per case.
ran() {
	local st took n
	read -r st took <"$RECORDS/$1.status"
	n=$(grep -cv '^#' "$RECORDS/$1.rec" || true)
	if [[ $st != 0 || $n != "$FUZZ_CASES" ]]; then
		echo "the $1 run failed (status $st after $took, $n of $FUZZ_CASES records); its stderr:"
		tail -n 40 "$RECORDS/$1.err"
		return 1
	fi
}

# rerun_prefix VARIANT: the variant's command prefix as one shell word list.
rerun_prefix() {
	local -a WRAP
	wrap "$1"
	local s
	s=$(printf "%q " "${WRAP[@]}")
	printf "%s" "${s% }"
}

# ---- the fuzzer itself -------------------------------------------------------

@test "fuzzer: a case depends only on seed and index: alone, in a part of its batch, in the run" {
	ran native
	local k
	for k in 0 1 99 100 $((FUZZ_CASES / 2 + 37)) $((FUZZ_CASES - 1)); do
		run "$FUZZ" --seed "$FUZZ_SEED" --case "$k"
		assert_success
		assert_line --index 0 --regexp "^# madvise-fuzz seed=$FUZZ_SEED .* alone$"
		assert_line --index 1 "$(grep -m1 "^$k " "$RECORDS/native.rec")"
	done
	# a part of a batch, from its middle
	local first=$((FUZZ_CASES / 3 + 55))
	run "$FUZZ" --seed "$FUZZ_SEED" --first "$first" --cases 12
	assert_success
	diff -u <(awk -v a="$first" -v b=$((first + 12)) '!/^#/ && $1 >= a && $1 < b' "$RECORDS/native.rec") \
		<(grep -v '^#' <<<"$output")
	# another seed gives other cases
	run "$FUZZ" --seed $((FUZZ_SEED + 1)) --case 0 --describe
	local other=$output
	run "$FUZZ" --seed "$FUZZ_SEED" --case 0 --describe
	[[ $output != "$other" ]]
}

@test "fuzzer: the cases cover every advice, entry point, argument shape and kind of mapping" {
	run "$FUZZ" --seed "$FUZZ_SEED" --cases "$FUZZ_CASES" --stats
	assert_success
	local stats=$output min=$((FUZZ_CASES / 400)) name
	(( min >= 1 )) || min=1
	# every advice value of the table but HWPOISON and SOFT_OFFLINE
	while read -r name; do
		case $name in hwpoison|soft-offline) continue ;; esac
		grep -qE "^advice $name ([0-9]+)$" <<<"$stats" ||
			{ echo "advice $name never drawn"; return 1; }
		(( $(awk -v n="$name" '$1 == "advice" && $2 == n { print $3 }' <<<"$stats") >= min )) ||
			{ echo "advice $name drawn fewer than $min times"; return 1; }
	done < <("$TEST_PROGS_DIR/advice-table-dump" | awk '{ print tolower($1) }' |
		 sed 's/^madv_//; s/_/-/g')
	local want
	for want in 'advice garbage' 'entry m' 'entry s' 'entry p' \
		'start boundary' 'start window' 'start unaligned' 'start outside' 'start low' \
		'start kernel' 'start random' 'len pages' 'len window' 'len unaligned' 'len zero' \
		'len small' 'len huge' 'len negative' 'len random' 'len cut' \
		'pages 3-15' 'pages 16-127' 'pages 128-400' \
		'segment private-anon' 'segment shared-anon' 'segment private-file' \
		'segment shared-file' 'segment private-memfd' 'segment shared-memfd' \
		'segment short-file' 'segment rdonly-file' 'cases with-lock 1' 'cases with-hole 1' \
		'pre guard-install' 'pre dontfork' 'pre wipeonfork' 'pre moved'; do
		local n
		n=$(awk -v w="$want" 'index($0, w " ") == 1 { print $NF }' <<<"$stats")
		[[ -n $n ]] && (( n >= min )) || { echo "'$want' drawn ${n:-0} times, fewer than $min"; echo "$stats"; return 1; }
	done
}

@test "fuzzer: a crash or a hang is that case's record, and the run goes on in a new worker" {
	run "$FUZZ" --seed "$FUZZ_SEED" --first 10 --cases 4 --crash-case 11 --hang-case 12 --timeout 2
	assert_success
	assert_line --regexp '^10 call=[^ ]+ (ret|setup)='
	assert_line --regexp '^11 call=[^ ]+ crashed=SIGSEGV$'
	assert_line --regexp '^12 call=[^ ]+ crashed=timeout$'
	assert_line --regexp '^13 call=[^ ]+ (ret|setup)='
}

# ---- the comparison -----------------------------------------------------------

@test "comparison: a difference fails and is shown with its reproducer; documented approximations pass" {
	local d=$BATS_TEST_TMPDIR h='# madvise-fuzz seed=5 batch=100 first=0 cases=5'
	printf '%s\n' "$h" \
		'0 call=dontneed/m/0x100000000000/0x2000 ret=0 errno=kept data=Z*2,W prot=rw-p*3' \
		'1 call=guard-install/m/0x100000000000/0x1000 ret=0 errno=kept data=G,W prot=rw-p*2 child=G,W' \
		'2 call=dontdump/m/0x100000000000/0x1000 ret=0 errno=kept data=W prot=rw-p' \
		'3 call=collapse/m/0x100000000000/0x1000 ret=0 errno=kept data=W prot=rw-p' \
		'4 call=free/m/0x100000000000/0x1000 ret=0 errno=kept data=OZ prot=rw-p' >"$d/n.rec"
	printf '%s\n' "$h" \
		'0 call=dontneed/m/0x100000000000/0x2000 ret=0 errno=kept data=Z*2,W prot=rw-p*3' \
		'1 call=guard-install/m/0x100000000000/0x1000 ret=0 errno=kept data=-,W prot=---p,rw-p child=-,W' \
		'2 call=dontdump/m/0x100000000000/0x1000 ret=0 errno=kept dump=0 data=W prot=rw-p' \
		'3 call=collapse/m/0x100000000000/0x1000 ret=-1 errno=ENOSYS data=W prot=rw-p' \
		'4 call=free/m/0x100000000000/0x1000 ret=0 errno=kept data=OZ prot=rw-p' >"$d/s.rec"
	run "$FUZZ" --compare "$d/n.rec" "$d/s.rec" --variant sim
	assert_success
	assert_output --partial 'guard 2 pages'
	# dontdump is only excepted where the kernel lacks it (sim, not sim-4.4);
	# ENOSYS is sim's error for COLLAPSE, not sim-4.4's
	run "$FUZZ" --compare "$d/n.rec" "$d/s.rec" --variant sim-4.4 --rerun 'PREFIX'
	assert_failure 1
	assert_line '  case 2 differs in dump'
	assert_line '  case 3 differs in ret,errno'
	assert_line --partial 'rerun alone:      PREFIX '
	assert_line --regexp 'rerun alone: +PREFIX .*madvise-fuzz --seed 5 --case 2$'
	assert_line --regexp 'rerun with batch: +PREFIX .*madvise-fuzz --seed 5 --batch 100 --first 0 --cases 3$'
	# a guard that is not PROT_NONE, a zeroed page, a missing record; the
	# page the guard rule no longer explains is no guard for the child
	# view either
	sed -i -e 's/data=-,W prot=---p/data=-,W prot=rw-p/' -e 's/data=Z\*2,W/data=Z*3/' -e '/^4 /d' "$d/s.rec"
	run "$FUZZ" --compare "$d/n.rec" "$d/s.rec" --variant sim
	assert_failure 1
	assert_line '  case 0 differs in data'
	assert_line '  case 1 differs in data,child'
	assert_line '  case 4 differs in missing-in-sim'
	assert_line --regexp '^compared 4 cases of seed 5, native against sim: 3 differ'
}

# compare_cases DIR VARIANT: the comparison of DIR/n.rec and DIR/v.rec as
# its exit status, then the differing cases, one "K FIELDS" a line, then its
# closing line.
compare_cases() {
	local out rc=0
	out=$("$FUZZ" --compare "$1/n.rec" "$1/v.rec" --variant "$2") || rc=$?
	echo "status $rc"
	awk '$1 == "case" && $3 == "differs" { print $2, $5 } /^compared / { print }' <<<"$out"
}

@test "comparison: COLLAPSE and write-only POPULATE_WRITE pass with the variant's one error only, a child's guard only under the parent's" {
	local d=$BATS_TEST_TMPDIR h='# madvise-fuzz seed=5 batch=100 first=0 cases=11'
	local c=call=collapse/m/0x100000000000/0x1000 p=call=populate-write/m/0x100000000000/0x2000
	local g=call=guard-install/m/0x100000000000/0x1000
	printf '%s\n' "$h" \
		"0 $c ret=-1 errno=EINVAL data=W prot=rw-p" \
		"1 $c ret=-1 errno=ENOMEM data=W prot=rw-p" \
		"2 $c ret=0 errno=kept data=W prot=rw-p" \
		"3 $c ret=-1 errno=ENOMEM data=W prot=rw-p" \
		"4 $p ret=0 errno=kept data=W*2 prot=-w-p,rw-p" \
		"5 $p ret=0 errno=kept data=W*2 prot=-w-p,rw-p" \
		"6 $p ret=0 errno=kept data=W*2 prot=rw-p*2" \
		"7 $g ret=0 errno=kept data=G,W prot=rw-p*2 child=G,W" \
		"8 $g ret=0 errno=kept data=W*2 prot=rw-p*2 child=G,W" \
		"9 $g ret=0 errno=kept data=G,W prot=rw-p*2 child=G,W" \
		"10 $g ret=0 errno=kept data=G,W prot=rw-p*2 child=G,G" >"$d/n.rec"
	# one defect a case but for 0, 1, 4, 5 (each right in one variant) and 9
	printf '%s\n' "$h" \
		"0 $c ret=-1 errno=ENOSYS data=W prot=rw-p" \
		"1 $c ret=-1 errno=EINVAL data=W prot=rw-p" \
		"2 $c ret=-1 errno=EPERM data=W prot=rw-p" \
		"3 $c ret=0 errno=ENOSYS data=W prot=rw-p" \
		"4 $p ret=-1 errno=ENOSYS data=W*2 prot=-w-p,rw-p" \
		"5 $p ret=-1 errno=EINVAL data=W*2 prot=-w-p,rw-p" \
		"6 $p ret=-1 errno=ENOSYS data=W*2 prot=rw-p*2" \
		"7 $g ret=0 errno=kept data=G,W prot=rw-p*2 child=-,W" \
		"8 $g ret=0 errno=kept data=W*2 prot=rw-p*2 child=-,W" \
		"9 $g ret=0 errno=kept data=-,W prot=---p,rw-p child=-,W" \
		"10 $g ret=0 errno=kept data=-,W prot=---p,rw-p child=-,-" >"$d/v.rec"
	# sim has no madvise: ENOSYS.  A ret of 0 is no error, whatever errno
	# says (3).  POPULATE_WRITE's error is excused over a write-only page
	# only (6).  The child's view may show an emulated guard only where the
	# parent's page is one: not where the parent is the kernel's guard in
	# both records (7), is no guard (8), or is a guard at another page (10).
	run compare_cases "$d" sim
	assert_output "$(printf '%s\n' 'status 1' '1 errno' '2 ret,errno' '3 ret,errno' '5 ret,errno' \
		'6 ret,errno' '7 child' '8 child' '10 child' \
		'compared 11 cases of seed 5, native against sim: 8 differ; approximations accepted: guard 4 pages, dontdump 0 cases, collapse 1 cases, write-only populate 1 cases')"
	# sim-4.4 has madvise, older than either advice: EINVAL
	run compare_cases "$d" sim-4.4
	assert_output "$(printf '%s\n' 'status 1' '0 errno' '2 ret,errno' '3 ret,errno' '4 ret,errno' \
		'6 ret,errno' '7 child' '8 child' '10 child' \
		'compared 11 cases of seed 5, native against sim-4.4: 8 differ; approximations accepted: guard 4 pages, dontdump 0 cases, collapse 1 cases, write-only populate 1 cases')"
	# no kernel error is known for another variant: neither is excused
	run compare_cases "$d" sim-maps
	assert_output --partial '0 errno'
	assert_output --partial '4 ret,errno'
	assert_output --partial ': 10 differ;'
}

@test "security report: a failed check is listed with its reproducer" {
	local d=$BATS_TEST_TMPDIR
	printf '%s\n' '# madvise-fuzz seed=9 batch=100 first=0 cases=2' \
		'0 call=dontneed/m/0x100000000000/0x1000 ret=0 errno=kept data=Z prot=rw-p' \
		'1 call=guard-remove/m/0x100000000000/0x1000 ret=0 errno=kept data=W prot=rwxp sec=widened@0:r--p>rwxp' >"$d/s.rec"
	run "$FUZZ" --security "$d/s.rec" --variant sim --rerun PREFIX
	assert_failure 1
	assert_line '  case 1 failed a security check in sim: widened@0:r--p>rwxp'
	assert_line --regexp 'rerun alone: +PREFIX .* --seed 9 --case 1$'
	assert_line '2 records of sim, 1 failed a security check'
}

# ---- the runs -----------------------------------------------------------------------

@test "native: every case ran, no worker died, and the fuzzer's own model holds" {
	ran native
	run grep -cE ' crashed=' "$RECORDS/native.rec"
	assert_output 0
	# set-up must fail rarely, or the cases test little
	local bad
	bad=$(grep -c ' setup=' "$RECORDS/native.rec" || true)
	(( bad * 100 <= FUZZ_CASES )) || { echo "$bad set-ups failed"; grep -m5 ' setup=' "$RECORDS/native.rec"; return 1; }
	# the checks are the fuzzer's model of madvise: the kernel must pass them
	run "$FUZZ" --security "$RECORDS/native.rec" --variant native --max-show "${FUZZ_SHOW:-20}"
	assert_success
}

# oracle_cases NATIVE OTHER OUT: OUT.native and OUT.other, the two record
# files without the cases whose native record names advice the host kernel
# lacks (no oracle for them); says how many were left out.
oracle_cases() {
	find_host_lacking
	if [[ -z $HOST_LACKING_REGEX ]]; then
		cp "$1" "$3.native"
		cp "$2" "$3.other"
		return 0
	fi
	awk -v re="$HOST_LACKING_REGEX" '$1 ~ /^[0-9]+$/ && $0 ~ re { print $1 }' "$1" >"$3.out"
	local f
	for f in native:"$1" other:"$2"; do
		awk 'NR == FNR { out[$1] = 1; next } !($1 in out)' "$3.out" "${f#*:}" >"$3.${f%%:*}"
	done
	echo "host kernel: $(wc -l <"$3.out") cases left out, the native oracle lacks: ${HOST_LACKING[*]}"
}

# same_as_native VARIANT
same_as_native() {
	selected "$1" || skip "selected: $1 is not in FUZZ_VARIANTS"
	ran native
	ran "$1"
	oracle_cases "$RECORDS/native.rec" "$RECORDS/$1.rec" "$BATS_TEST_TMPDIR/cmp"
	run "$FUZZ" --compare "$BATS_TEST_TMPDIR/cmp.native" "$BATS_TEST_TMPDIR/cmp.other" --variant "$1" \
		--rerun "$(rerun_prefix "$1")" --max-show "${FUZZ_SHOW:-20}"
	[[ -n ${FUZZ_OUT:-} ]] && printf '%s\n' "$output" >"$FUZZ_OUT/$1.compare"
	echo "$output" | tail -n 400
	[[ $status == 0 ]]
}

# no_security_failure VARIANT
no_security_failure() {
	selected "$1" || skip "selected: $1 is not in FUZZ_VARIANTS"
	ran "$1"
	run "$FUZZ" --security "$RECORDS/$1.rec" --variant "$1" \
		--rerun "$(rerun_prefix "$1")" --max-show "${FUZZ_SHOW:-20}"
	[[ -n ${FUZZ_OUT:-} ]] && printf '%s\n' "$output" >"$FUZZ_OUT/$1.security"
	echo "$output" | tail -n 200
	[[ $status == 0 ]]
}

@test "differential: same records as native [sim]" { same_as_native sim; }
@test "differential: same records as native [sim-4.4]" { same_as_native sim-4.4; }
@test "security: no protection widened, no mapping lost, no shared or file data lost [sim]" { no_security_failure sim; }
@test "security: no protection widened, no mapping lost, no shared or file data lost [sim-4.4]" { no_security_failure sim-4.4; }

# ---- regressions ----------------------------------------------------------------
# Cases that once differed from the kernel (docs/reliability.md, F1 to F7),
# each run alone natively and on both simulated kernels: seed and case.
REGRESSIONS='1517 350
1517 6682
1517 16135
1517 678
4242 12741
7 5941
1517 6774
1517 10702
7 4433
1517 1746
4242 67312
4242 78677
4242 80388
4242 88847
4242 97256'

@test "regressions: every case that once differed now gives the kernel's record [sim, sim-4.4]" {
	local d=$BATS_TEST_TMPDIR seed k v bad=0
	local -a WRAP
	while read -r seed k; do
		"$FUZZ" --seed "$seed" --case "$k" >"$d/n.rec"
		for v in sim sim-4.4; do
			wrap "$v"
			TMPDIR="$d" "${WRAP[@]}" "$FUZZ" --seed "$seed" --case "$k" >"$d/s.rec"
			oracle_cases "$d/n.rec" "$d/s.rec" "$d/cmp" >/dev/null
			run "$FUZZ" --compare "$d/cmp.native" "$d/cmp.other" --variant "$v"
			if ((status != 0)); then
				echo "seed $seed case $k [$v]:"
				echo "$output"
				bad=1
			fi
		done
	done <<<"$REGRESSIONS"
	return $bad
}
