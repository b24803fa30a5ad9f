#!/usr/bin/env bats
# The differential harness: every scenario of tests/c/differential.c runs on
# the native kernel (the oracle) and with the shim on simulated kernels, and
# the records must be identical, except where tests/differential-exceptions.txt
# documents an approximation.
#
# Variants, as used in the test names:
#   native     the runner alone
#   shim       the shim preloaded on the native kernel (everything passes through)
#   sim        madvise-sim (madvise, process_madvise, fadvise: ENOSYS) + the shim
#   sim-4.4    madvise-sim --kernel 4.4 + the shim: advice newer than 4.4 is
#              EINVAL, no process_madvise, no MREMAP_DONTUNMAP, no PROCMAP_QUERY
#   sim-maps   as sim, with MADVISE_SHIM_LOOKUP=maps
#   sim-warm   as sim, with the runner's --warm: each scenario first gives its
#              advice with len 0, so the call under test takes the shim's
#              cached path instead of the first-call one
# shim and sim-warm run a subset (SUBSET below), to keep the suite short; the
# others run every scenario.
#
# All runs happen once, concurrently, in setup_file; each test then looks at
# the stored records.
#
# The exceptions file has one exception per line:
#
#   PATTERN  FIELD[,FIELD...]  REASON...
#
# PATTERN is a glob over "VARIANT:SCENARIO" (so "sim*:guard-install/*" covers
# every simulated kernel), FIELD names the record fields that may differ there
# (ret errno data prot child dumpable res crashed setup).  FIELD=VALUE lets
# the field differ only to exactly VALUE in the variant's record (VALUE has
# no comma or blank): for an approximation whose outcome is known, so that
# any other outcome still fails.  "guard" is not a field but the per-page
# rule for emulated guard regions (guard_pages in the comparison): only the
# pages that are kernel guard regions natively may differ, and only as an
# emulated guard shows them; data, prot and child are compared exactly on
# every other page.  An exception that no record needs any more fails the
# suite, so stale ones get removed.
#
# Environment, for working on the harness or the shim:
#   DIFFERENTIAL_FILTER  globs (space separated) to run only some scenarios
#   DIFFERENTIAL_STRICT  1: compare the "~" fields (residency after advice
#                        that discards or pages out) too
#   DIFFERENTIAL_OUT     a directory that receives the records, the
#                        normalised records and the diffs
#   DIFFERENTIAL_DIFF_LINES  how many diff lines a failure shows (400)

bats_require_minimum_version 1.5.0

VARIANTS=(native shim sim sim-4.4 sim-maps sim-warm)

# The scenarios a variant runs when not all of them: every advice on the
# main kinds of mapping, whole and across a hole, and through syscall() and
# process_madvise().
MAIN_KINDS='anon-rw anon-mixed anon-rw-locked shm-rw file-priv-rw file-priv-rw-locked file-shared-rw memfd-priv-rw memfd-shared-rw'
subset_globs() {
	local k
	for k in $MAIN_KINDS; do
		printf '*/%s/all\n*/%s/hole-between\n' "$k" "$k"
	done
	printf '%s\n' '*/*/sys-all' '*/*/pm-all' '*/*/pm-hole-between'
}
declare -A SUBSET=([shim]=1 [sim-warm]=1)

# select_names VARIANT: the names of the scenarios VARIANT runs, one a line,
# into $RECORDS/VARIANT.names (DIFFERENTIAL_FILTER applies to every variant).
select_names() {
	local v=$1
	if [[ -n ${SUBSET[$v]:-} ]]; then
		local -a globs
		mapfile -t globs < <(subset_globs)
		"$DIFF" --list "${globs[@]}" | LC_ALL=C sort >"$RECORDS/$v.subset"
		LC_ALL=C comm -12 "$RECORDS/all.names" "$RECORDS/$v.subset" >"$RECORDS/$v.names"
	else
		cp "$RECORDS/all.names" "$RECORDS/$v.names"
	fi
}

# run_variant VARIANT: runs VARIANT's selection into
# $RECORDS/VARIANT.{rec,err,status}.
run_variant() {
	local v=$1
	local -a wrap filter opts=()
	case $v in
	native) wrap=() ;;
	shim) wrap=(env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	sim) wrap=("$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	sim-warm) wrap=("$MADVISE_SIM" -- env LD_PRELOAD="$MADVISE_SHIM_LIB"); opts=(--warm) ;;
	sim-4.4) wrap=("$MADVISE_SIM" --kernel 4.4 -- env LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	sim-maps) wrap=("$MADVISE_SIM" -- env MADVISE_SHIM_LOOKUP=maps LD_PRELOAD="$MADVISE_SHIM_LIB") ;;
	*) echo "unknown variant $v" >&2; return 2 ;;
	esac
	if [[ ! -s $RECORDS/$v.names ]]; then
		: >"$RECORDS/$v.rec"
		: >"$RECORDS/$v.err"
		echo "skip 0s" >"$RECORDS/$v.status"
		return 0
	elif [[ -n ${SUBSET[$v]:-} || -s $RECORDS/host.excluded ]]; then
		mapfile -t filter <"$RECORDS/$v.names"
	else
		read -ra filter <<<"${DIFFERENTIAL_FILTER:-}"
	fi
	mkdir -p "$RECORDS/tmp-$v"
	local rc=0 t0=$SECONDS
	TMPDIR="$RECORDS/tmp-$v" "${wrap[@]}" "$DIFF" "${opts[@]}" "${filter[@]}" \
		>"$RECORDS/$v.rec" 2>"$RECORDS/$v.err" || rc=$?
	echo "$rc $((SECONDS - t0))s" >"$RECORDS/$v.status"
}

# leave_out_what_the_host_lacks: the native kernel is the oracle, so a
# scenario whose advice, guard layout or process_madvise entry the host
# kernel lacks cannot be compared.  Such names leave all.names for
# RECORDS/host.excluded, and one line per missing feature says so.
leave_out_what_the_host_lacks() {
	local i token name reasons=() globs=()
	find_host_lacking
	for i in "${!HOST_LACKING[@]}"; do
		token=${HOST_LACKING[i]}
		name=${token^^}
		globs+=("$token/*")
		[[ $token != guard-install ]] || globs+=('*/*+guard*/*')
		reasons+=("no MADV_${name//-/_} (Linux ${HOST_LACKING_SINCE[i]})")
	done
	if ! host_has process_madvise; then
		globs+=('*/*/pm-*')
		reasons+=("no process_madvise (Linux $(feature_since process_madvise))")
	fi
	: >"$RECORDS/host.excluded"
	(( ${#globs[@]} )) || return 0
	local g kept=()
	while IFS= read -r name; do
		for g in "${globs[@]}"; do
			# shellcheck disable=SC2053 # a glob on purpose
			if [[ $name == $g ]]; then
				echo "$name" >>"$RECORDS/host.excluded"
				continue 2
			fi
		done
		kept+=("$name")
	done <"$RECORDS/all.names"
	printf '%s\n' "${kept[@]}" >"$RECORDS/all.names"
	local IFS=';'
	echo "# host kernel: $(wc -l <"$RECORDS/host.excluded") scenarios left out, the native oracle lacks them: ${reasons[*]}" >&3
}

# drop_host_excluded: stdin's lines (records or names) without those of the
# scenarios leave_out_what_the_host_lacks left out.
drop_host_excluded() {
	if [[ -s $RECORDS/host.excluded ]]; then
		awk 'NR == FNR { out[$1] = 1; next } !($1 in out)' "$RECORDS/host.excluded" -
	else
		cat
	fi
}

setup_file() {
	load lib/host
	export DIFF="$TEST_PROGS_DIR/madvise-differential"
	export EXCEPTIONS="$SOURCE_ROOT/tests/differential-exceptions.txt"
	export RECORDS="$BATS_FILE_TMPDIR/records"
	mkdir -p "$RECORDS"
	local -a filter
	read -ra filter <<<"${DIFFERENTIAL_FILTER:-}"
	"$DIFF" --list "${filter[@]}" | LC_ALL=C sort >"$RECORDS/all.names"
	leave_out_what_the_host_lacks
	local v
	for v in "${VARIANTS[@]}"; do
		select_names "$v"
		run_variant "$v" &
	done
	wait
	if [[ -n ${DIFFERENTIAL_OUT:-} ]]; then
		mkdir -p "$DIFFERENTIAL_OUT"
		cp "$RECORDS"/*.rec "$RECORDS"/*.err "$RECORDS"/*.status "$DIFFERENTIAL_OUT"/
	fi
}

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	load lib/host
	export TMPDIR="$BATS_TEST_TMPDIR"
}

# ran VARIANT: the run finished with status 0 and printed records (the
# test is skipped when DIFFERENTIAL_FILTER left the variant nothing to run).
ran() {
	local st
	read -r st _ <"$RECORDS/$1.status"
	[[ $st == skip ]] && skip "selected: DIFFERENTIAL_FILTER selects no scenario of $1"
	if [[ $st != 0 || ! -s $RECORDS/$1.rec ]]; then
		echo "the $1 run failed (status $st, $(wc -l <"$RECORDS/$1.rec") records); its stderr:"
		tail -n 40 "$RECORDS/$1.err"
		return 1
	fi
}

# The comparison.  Input: the exceptions file, the native records, the
# variant's records.  Output files (prefix OUT):
#   OUT.native, OUT.other  each record with excepted fields replaced by
#                          <excepted:LINE> on both sides, and the pages the
#                          guard rule explains by <guard:LINE>, "~" fields
#                          dropped (kept when strict), sorted
#   OUT.fields             per differing record: the name and the fields
#   OUT.used               the exceptions file's line numbers that were needed
COMPARE_AWK='
function glob_re(g,    re, i, n, c, j, cls) {
	re = "^"
	n = length(g)
	for (i = 1; i <= n; i++) {
		c = substr(g, i, 1)
		if (c == "*") re = re ".*"
		else if (c == "?") re = re "."
		else if (c == "[" && (j = index(substr(g, i + 1), "]")) > 0) {
			cls = substr(g, i + 1, j - 1)
			if (substr(cls, 1, 1) == "!") cls = "^" substr(cls, 2)
			re = re "[" cls "]"
			i += j
		} else if (index("\\^$.|+(){}[]", c)) re = re "\\" c
		else re = re c
	}
	return re "$"
}
function parse(side, line,    n, f, i, eq, key, val, name) {
	n = split(line, f, " ")
	name = f[1]
	if (!(name in seen)) { seen[name] = 1; names[++nnames] = name }
	present[side, name] = 1
	keys[side, name] = ""
	for (i = 2; i <= n; i++) {
		eq = index(f[i], "=")
		key = eq ? substr(f[i], 1, eq - 1) : f[i]
		val = eq ? substr(f[i], eq + 1) : ""
		if (substr(key, 1, 1) == "~") {
			if (!strict) continue
			key = substr(key, 2)
		}
		has[side, name, key] = 1
		val_of[side, name, key] = val
		keys[side, name] = keys[side, name] " " key
	}
}
# excepted(name, key, vb): the first exception line that lets field KEY of
# NAME differ, VB being the value on the variant side, or 0.  A pinned
# FIELD=VALUE item lets it differ only to exactly VALUE.
function excepted(name, key, vb,    e) {
	for (e = 1; e <= nexc; e++)
		if ((variant ":" name) ~ exc_re[e] && (e, key) in exc_has &&
		    (!((e, key) in exc_pin) || exc_pin[e, key] == vb))
			return e
	return 0
}
# guard_rule(name): the first exception line with the guard rule for NAME, or 0.
function guard_rule(name,    e) {
	for (e = 1; e <= nexc; e++)
		if ((variant ":" name) ~ exc_re[e] && (e, "guard") in exc_has)
			return e
	return 0
}
function field_of(side, name, key) {
	return ((side, name, key) in has) ? val_of[side, name, key] : "<absent>"
}
function joined(arr, n,    i, s) {
	s = arr[1]
	for (i = 2; i <= n; i++) s = s "," arr[i]
	return s
}
# guard_pages(name, e): the guard rule of line E, page by page, as the
# fuzzer has it (tests/c/fuzz.c, compare_fields): a page that is a kernel
# guard region natively (data G) may read - in the variant with protection
# "---" and the same sharing and flags ("rw-pL" -> "---pL"), and G may read
# - in the child view where the native page is such a guard; every other
# page must be the same.  Sets gbad[FIELD] for data, prot and child when
# they differ in some other page; else gval[FIELD] is the field with the
# explained pages shown as <guard:LINE>, on both sides.
function guard_pages(name, e,    da, db, pa, pb, ca, cb, n, nc, i, tag, g) {
	split("", gbad); split("", gval)
	n = split(field_of(1, name, "data"), da, ",")
	if (n < 2 || n != split(field_of(2, name, "data"), db, ",") ||
	    n != split(field_of(1, name, "prot"), pa, ",") ||
	    n != split(field_of(2, name, "prot"), pb, ",")) {
		gbad["data"] = gbad["prot"] = gbad["child"] = 1
		return
	}
	tag = "<guard:" exc_line[e] ">"
	split("", g)
	for (i = 1; i <= n; i++) {
		if (da[i] == db[i] && pa[i] == pb[i]) continue
		if (da[i] == "G" && db[i] == "-" && length(pa[i]) >= 4 &&
		    pb[i] == "---" substr(pa[i], 4)) {
			g[i] = 1
			da[i] = db[i] = pa[i] = pb[i] = tag
			continue
		}
		if (da[i] != db[i]) gbad["data"] = 1
		if (pa[i] != pb[i]) gbad["prot"] = 1
	}
	gval["data"] = joined(da, n); gval["prot"] = joined(pa, n)
	nc = split(field_of(1, name, "child"), ca, ",")
	if (nc != n || nc != split(field_of(2, name, "child"), cb, ",")) {
		gbad["child"] = 1
		return
	}
	for (i = 1; i <= n; i++) {
		if (ca[i] == cb[i]) continue
		if (ca[i] == "G" && cb[i] == "-" && g[i]) { ca[i] = tag; continue }
		gbad["child"] = 1
	}
	gval["child"] = joined(ca, n)
}
FILENAME == ARGV[1] {
	if ($0 ~ /^[ \t]*(#|$)/) next
	nexc++
	exc_re[nexc] = glob_re($1)
	nf = split($2, F, ",")
	for (j = 1; j <= nf; j++) {
		eq = index(F[j], "=")
		key = eq ? substr(F[j], 1, eq - 1) : F[j]
		exc_has[nexc, key] = 1
		if (eq) exc_pin[nexc, key] = substr(F[j], eq + 1)
	}
	exc_line[nexc] = FNR
	next
}
FILENAME == ARGV[2] { parse(1, $0); next }
FILENAME == ARGV[3] { parse(2, $0); next }
END {
	for (i = 1; i <= nnames; i++) {
		name = names[i]
		la = name; lb = name; diffs = ""
		nk = split(keys[1, name] keys[2, name], K, " ")
		split("", done)
		ge = (present[1, name] && present[2, name]) ? guard_rule(name) : 0
		guarded = 0
		for (j = 1; j <= nk; j++) {
			k = K[j]
			if (k in done) continue
			done[k] = 1
			ina = (1, name, k) in has; inb = (2, name, k) in has
			va = ina ? val_of[1, name, k] : "<absent>"
			vb = inb ? val_of[2, name, k] : "<absent>"
			if (va != vb && present[1, name] && present[2, name]) {
				if (ge && (k == "data" || k == "prot" || k == "child")) {
					if (!guarded++) guard_pages(name, ge)
					if (!(k in gbad)) {
						print exc_line[ge] > out_u
						va = vb = gval[k]
						if (ina) la = la " " k "=" va
						if (inb) lb = lb " " k "=" vb
						continue
					}
				}
				e = excepted(name, k, vb)
				if (e) {
					print exc_line[e] > out_u
					va = vb = "<excepted:" exc_line[e] ">"
					ina = inb = 1
				} else diffs = diffs "," k
			}
			if (ina) la = la " " k "=" va
			if (inb) lb = lb " " k "=" vb
		}
		if (present[1, name]) print la > out_a
		else diffs = ",only-in-variant"
		if (present[2, name]) print lb > out_b
		else diffs = ",missing-in-variant"
		if (diffs != "") print name " " substr(diffs, 2) > out_f
	}
	close(out_a); close(out_b); close(out_f); close(out_u)
}'

# native_for VARIANT: the native records of the scenarios VARIANT ran.
native_for() {
	awk 'NR == FNR { want[$1] = 1; next } $1 in want' "$RECORDS/$1.names" "$RECORDS/native.rec"
}

# compare_records VARIANT NATIVE_FILE VARIANT_FILE OUT
compare_records() {
	: >"$4.native"; : >"$4.other"; : >"$4.fields"; : >"$4.used"
	awk -v variant="$1" -v strict="${DIFFERENTIAL_STRICT:-0}" \
		-v out_a="$4.native" -v out_b="$4.other" -v out_f="$4.fields" -v out_u="$4.used" \
		"$COMPARE_AWK" "$EXCEPTIONS" "$2" "$3"
	LC_ALL=C sort -o "$4.native" "$4.native"
	LC_ALL=C sort -o "$4.other" "$4.other"
	sort -un -o "$4.used" "$4.used"
}

# same_as_native VARIANT: the variant's records equal native's but for the
# exceptions.  Otherwise it shows the differing records grouped by advice and
# differing fields, with one native/variant record pair per group, then a
# unified diff of all differing records with one field per line (so that each
# hunk is one scenario and shows which fields changed).
same_as_native() {
	local v=$1 out="$BATS_TEST_TMPDIR/cmp-$1"
	ran native
	ran "$v"
	native_for "$v" >"$out.oracle"
	compare_records "$v" "$out.oracle" "$RECORDS/$v.rec" "$out"
	if [[ -n ${DIFFERENTIAL_OUT:-} ]]; then
		cp "$out.fields" "$DIFFERENTIAL_OUT/$v.mismatches"
	fi
	[[ -s $out.fields ]] || return 0

	echo "$(wc -l <"$out.fields") of $(wc -l <"$out.oracle") scenarios differ between native and $v"
	echo "groups (advice [differing fields]: count), each with its first record pair;"
	echo "a layout whose set-up fails in $v is one group, whatever the advice:"
	awk -v native="$out.oracle" -v other="$RECORDS/$v.rec" -v vname="$v" '
		FILENAME == native { rec_a[$1] = $0; next }
		FILENAME == other { rec_b[$1] = $0
			if (match($0, / (setup|crashed)=[^ ]*/)) how[$1] = substr($0, RSTART + 1, RLENGTH - 1)
			next }
		{ split($1, p, "/")
		  if ($1 in how && how[$1] ~ /^setup=/) g = "set-up of " p[2] " fails (" how[$1] ")"
		  else if ($1 in how) g = p[1] " (" how[$1] ")"
		  else g = p[1] " [" $2 "]"
		  if (!(g in n)) { order[++m] = g; first[g] = $1 }
		  n[g]++ }
		END {
			for (i = 1; i <= m; i++) {
				g = order[i]; s = first[g]
				printf "  %s: %d\n", g, n[g]
				printf "    native: %s\n", (s in rec_a) ? rec_a[s] : "(none)"
				printf "    %s: %s\n", vname, (s in rec_b) ? rec_b[s] : "(none)"
			}
		}' "$out.oracle" "$RECORDS/$v.rec" "$out.fields"

	local per_field='NR == FNR { want[$1] = 1; next }
		want[$1] { for (i = 2; i <= NF; i++) print $1 " " $i; if (NF == 1) print $1 }'
	awk "$per_field" "$out.fields" "$out.native" >"$out.native.bad"
	awk "$per_field" "$out.fields" "$out.other" >"$out.other.bad"
	diff -u --label native --label "$v" "$out.native.bad" "$out.other.bad" >"$out.diff" || true
	if [[ -n ${DIFFERENTIAL_OUT:-} ]]; then
		cp "$out.diff" "$DIFFERENTIAL_OUT/$v.diff"
	fi
	echo "unified diff of the differing records, one field per line (native -, $v +):"
	head -n "${DIFFERENTIAL_DIFF_LINES:-400}" "$out.diff"
	return 1
}

# ---- the runner itself ----------------------------------------------------

@test "runner: --list names at least 300 scenarios, each once, and a run prints each once" {
	run "$DIFF" --list
	assert_success
	local listed
	listed=$(LC_ALL=C sort <<<"$output")
	(( $(wc -l <<<"$listed") >= 300 )) || { echo "only $(wc -l <<<"$listed") scenarios"; return 1; }
	[[ -z $(uniq -d <<<"$listed") ]] || { echo "duplicate names:"; uniq -d <<<"$listed"; return 1; }
	[[ -n ${DIFFERENTIAL_FILTER:-} ]] && skip "selected: DIFFERENTIAL_FILTER is set"
	ran native
	local printed
	printed=$(awk '{ print $1 }' "$RECORDS/native.rec" | LC_ALL=C sort)
	# what the host kernel lacks was not run (leave_out_what_the_host_lacks)
	listed=$(drop_host_excluded <<<"$listed")
	if [[ $listed != "$printed" ]]; then
		diff -u --label listed --label printed <(echo "$listed") <(echo "$printed") | head -40
		return 1
	fi
}

@test "runner: a glob selects scenarios, and a glob matching nothing is an error" {
	run "$DIFF" --list 'dontneed/anon-rw/*'
	assert_success
	assert_line 'dontneed/anon-rw/all'
	refute_line --regexp '^free/'
	run "$DIFF" --list 'no-such-advice/*'
	assert_failure 2
	run "$DIFF" --bogus
	assert_failure 2
}

@test "runner: the native oracle is sane: no crash, no failed set-up, and the documented basics hold" {
	ran native
	run grep -E ' (crashed|setup)=' "$RECORDS/native.rec"
	assert_failure
	[[ -n ${DIFFERENTIAL_FILTER:-} ]] && skip "selected: DIFFERENTIAL_FILTER is set"
	# a few facts every Linux 6.x answers, so that a broken layout shows here
	run grep -E '^dontneed/anon-rw/all ' "$RECORDS/native.rec"
	assert_output --regexp ' ret=0 errno=kept data=\.,W,W,Z,Z,Z,Z,\.,W,W,\.,\. '
	run grep -E '^dontneed/file-priv-rw/all ' "$RECORDS/native.rec"
	assert_output --regexp ' data=\.,W,W,F,F,F,F,\.,W,W,\.,\. '
	run grep -E '^dontneed/anon-rw-locked/all ' "$RECORDS/native.rec"
	assert_output --regexp ' ret=-1 errno=EINVAL .* prot=\.,rw-s,rw-s,rw-pL,rw-pL,rw-pL,rw-pL,'
	run grep -E '^free/anon-rw/hole-between ' "$RECORDS/native.rec"
	assert_output --regexp ' ret=-1 errno=ENOMEM data=\.,W,W,W,W,OZ,OZ,\.,OZ,OZ,\.,\. '
	run grep -E '^dontfork/anon-rw/all ' "$RECORDS/native.rec"
	assert_output --regexp ' child=\.,W,W,\.,\.,\.,\.,\.,W,W,\.,\. '
	run grep -E '^wipeonfork/anon-rw/all ' "$RECORDS/native.rec"
	assert_output --regexp ' child=\.,W,W,Z,Z,Z,Z,\.,W,W,\.,\. '
	run grep -E '^unknown-99/anon-rw/all ' "$RECORDS/native.rec"
	assert_output --regexp ' ret=-1 errno=EINVAL '
}

@test "runner: records are deterministic and independent of order (--seed shuffles)" {
	[[ -n ${DIFFERENTIAL_FILTER:-} ]] && skip "selected: DIFFERENTIAL_FILTER is set"
	ran native
	local -a globs=('*/anon-mixed/*' '*/file-shared-rw/*' '*/anon-rw+wipeonfork/*')
	run "$DIFF" --seed 7 "${globs[@]}"
	assert_success
	local shuffled expected
	shuffled=$(drop_host_excluded <<<"$output" | LC_ALL=C sort)
	expected=$(grep -E '^[^ ]+/(anon-mixed|file-shared-rw|anon-rw\+wipeonfork)/' "$RECORDS/native.rec" | LC_ALL=C sort)
	if [[ $shuffled != "$expected" ]]; then
		diff -u --label "first run" --label "--seed 7" <(echo "$expected") <(echo "$shuffled") | head -60
		return 1
	fi
	# and the order really changed
	run "$DIFF" --seed 7 --list "${globs[@]}"
	local order
	order=$("$DIFF" --list "${globs[@]}")
	[[ $output != "$order" ]]
}

@test "runner: --warm changes nothing natively (a len 0 call has no effect)" {
	[[ -n ${DIFFERENTIAL_FILTER:-} ]] && skip "selected: DIFFERENTIAL_FILTER is set"
	ran native
	run "$DIFF" --warm '*/anon-rw/all' '*/anon-rw/hole-between' '*/file-shared-rw/*'
	assert_success
	local warm expected
	warm=$(drop_host_excluded <<<"$output" | LC_ALL=C sort)
	expected=$(grep -E '^[^ ]+/(anon-rw/(all|hole-between)|file-shared-rw/[^ ]+) ' "$RECORDS/native.rec" | LC_ALL=C sort)
	if [[ $warm != "$expected" ]]; then
		diff -u --label native --label "--warm" <(echo "$expected") <(echo "$warm") | head -60
		return 1
	fi
}

@test "runner: a crash or a hang is that scenario's record, and the run goes on" {
	run "$DIFF" --crash 'normal/anon-rw/all' --hang 'normal/anon-rw/part' --timeout 1 'normal/anon-rw/*'
	assert_success
	assert_line 'normal/anon-rw/all crashed=SIGSEGV'
	assert_line 'normal/anon-rw/part crashed=timeout'
	assert_line --regexp '^normal/anon-rw/span ret=0 '
}

# ---- the comparison ---------------------------------------------------------

@test "comparison: a differing field fails, an exception for that field and variant hides it" {
	local d="$BATS_TEST_TMPDIR"
	printf '%s\n' 'a/x/all ret=0 errno=kept data=W,Z dumpable=1 ~res=10' \
		'b/x/all ret=0 errno=kept data=W,W dumpable=1 res=11' >"$d/n.rec"
	printf '%s\n' 'a/x/all ret=0 errno=kept data=W,Z dumpable=0 ~res=00' \
		'b/x/all ret=-1 errno=EINVAL data=W,W dumpable=1 res=11' >"$d/v.rec"
	printf '%s\n' '# comment' '' 'sim:a/* dumpable the reason' 'sim-4.4:b/* ret,errno other' >"$d/exc"
	EXCEPTIONS="$d/exc" compare_records sim "$d/n.rec" "$d/v.rec" "$d/c"
	run cat "$d/c.fields"
	assert_output 'b/x/all ret,errno'
	run cat "$d/c.used"
	assert_output '3'
	EXCEPTIONS="$d/exc" compare_records sim-4.4 "$d/n.rec" "$d/v.rec" "$d/c"
	run cat "$d/c.fields"
	assert_output 'a/x/all dumpable'
	run cat "$d/c.used"
	assert_output '4'
	# "~" fields are ignored unless strict
	DIFFERENTIAL_STRICT=1 EXCEPTIONS="$d/exc" compare_records sim "$d/n.rec" "$d/v.rec" "$d/c"
	run cat "$d/c.fields"
	assert_line 'a/x/all res'
	# a record missing on one side is a difference
	head -n 1 "$d/v.rec" >"$d/v1.rec"
	EXCEPTIONS="$d/exc" compare_records sim "$d/n.rec" "$d/v1.rec" "$d/c"
	run cat "$d/c.fields"
	assert_line 'b/x/all missing-in-variant'
}

@test "comparison: FIELD=VALUE lets the field differ to that value only" {
	local d="$BATS_TEST_TMPDIR"
	printf '%s\n' 'c/x/a ret=-1 errno=EINVAL dumpable=1' 'c/x/b ret=-1 errno=EINVAL dumpable=1' \
		'c/x/c ret=0 errno=kept dumpable=1' 'c/x/d ret=0 errno=kept dumpable=1' >"$d/n.rec"
	printf '%s\n' 'c/x/a ret=-1 errno=ENOSYS dumpable=1' 'c/x/b ret=-1 errno=EINTR dumpable=1' \
		'c/x/c ret=-1 errno=ENOSYS dumpable=1' 'c/x/d ret=1 errno=ENOSYS dumpable=1' >"$d/v.rec"
	printf '%s\n' 'sim:c/* ret=-1,errno=ENOSYS the kernel error' >"$d/exc"
	EXCEPTIONS="$d/exc" compare_records sim "$d/n.rec" "$d/v.rec" "$d/c"
	run cat "$d/c.fields"
	assert_output "$(printf '%s\n' 'c/x/b errno' 'c/x/d ret')"
	run cat "$d/c.used"
	assert_output '1'
}

@test "comparison: the guard rule excuses a native guard page shown as an emulated one, no other page" {
	local d="$BATS_TEST_TMPDIR"
	local n='ret=0 errno=kept data=.,W,G,G,W prot=.,rw-s,rw-p,r--pL,rw-p child=.,W,G,G,W dumpable=1'
	# one record a case: the good one, then one defect each
	printf 'g/x/%s %s\n' ok "$n" wider "$n" suffix "$n" read "$n" child "$n" childg "$n" \
		nonguard "$n" >"$d/n.rec"
	printf '%s\n' \
		"g/x/ok ret=0 errno=kept data=.,W,-,-,W prot=.,rw-s,---p,---pL,rw-p child=.,W,-,-,W dumpable=1" \
		"g/x/wider ret=0 errno=kept data=.,W,-,-,W prot=.,rw-s,---p,---pL,r--p child=.,W,-,-,W dumpable=1" \
		"g/x/suffix ret=0 errno=kept data=.,W,-,-,W prot=.,rw-s,---s,---pL,rw-p child=.,W,-,-,W dumpable=1" \
		"g/x/read ret=0 errno=kept data=.,W,Z,-,W prot=.,rw-s,---p,---pL,rw-p child=.,W,-,-,W dumpable=1" \
		"g/x/child ret=0 errno=kept data=.,W,-,-,W prot=.,rw-s,---p,---pL,rw-p child=.,-,-,-,W dumpable=1" \
		"g/x/childg ret=0 errno=kept data=.,W,-,-,W prot=.,rw-s,---p,---pL,rw-p child=.,W,W,-,W dumpable=1" \
		"g/x/nonguard ret=0 errno=kept data=.,W,-,-,- prot=.,rw-s,---p,---pL,---p child=.,W,-,-,W dumpable=1" \
		>"$d/v.rec"
	printf '%s\n' 'sim*:g/* guard emulated guards' >"$d/exc"
	EXCEPTIONS="$d/exc" compare_records sim "$d/n.rec" "$d/v.rec" "$d/c"
	run cat "$d/c.fields"
	# (a page the rule does not excuse is no guard for the child view either)
	assert_output "$(printf '%s\n' 'g/x/wider prot' 'g/x/suffix data,prot,child' \
		'g/x/read data,prot,child' 'g/x/child child' 'g/x/childg child' 'g/x/nonguard data,prot')"
	run cat "$d/c.used"
	assert_output '1'
	# an explained page shows as <guard:LINE> on both sides
	run grep '^g/x/ok ' "$d/c.other"
	assert_output --partial 'data=.,W,<guard:1>,<guard:1>,W prot=.,rw-s,<guard:1>,<guard:1>,rw-p'
	# the rule is the pattern's only: another variant sees every difference
	EXCEPTIONS="$d/exc" compare_records shim "$d/n.rec" "$d/v.rec" "$d/c"
	run grep '^g/x/ok ' "$d/c.fields"
	assert_output 'g/x/ok data,prot,child'
}

@test "exceptions: every line is PATTERN FIELDS REASON with known fields" {
	local n=0 line pattern fields reason f
	while IFS= read -r line || [[ -n $line ]]; do
		n=$((n + 1))
		[[ $line =~ ^[[:space:]]*(#|$) ]] && continue
		read -r pattern fields reason <<<"$line"
		[[ $pattern == *:* ]] || { echo "line $n: the pattern needs VARIANT:SCENARIO: $line"; return 1; }
		[[ -n $reason ]] || { echo "line $n: no reason: $line"; return 1; }
		IFS=, read -ra f <<<"$fields"
		for field in "${f[@]}"; do
			case $field in
			ret|errno|data|prot|child|dumpable|res|crashed|setup) ;;
			ret=?*|errno=?*|dumpable=?*|res=?*|crashed=?*|setup=?*) ;;
			guard) ;;
			*) echo "line $n: unknown field, or a value pinned where none can be: '$field': $line"; return 1 ;;
			esac
		done
	done <"$EXCEPTIONS"
}

# ---- the shim against the kernel ----------------------------------------------

@test "differential: same records as native [shim]" { same_as_native shim; }
@test "differential: same records as native [sim]" { same_as_native sim; }
@test "differential: same records as native [sim-4.4]" { same_as_native sim-4.4; }
@test "differential: same records as native [sim-maps]" { same_as_native sim-maps; }
@test "differential: same records as native [sim-warm]" { same_as_native sim-warm; }

@test "exceptions: every exception is needed by some variant" {
	[[ -n ${DIFFERENTIAL_FILTER:-} ]] && skip "selected: DIFFERENTIAL_FILTER is set"
	local v used="$BATS_TEST_TMPDIR/used"
	: >"$used"
	for v in "${VARIANTS[@]:1}"; do
		ran "$v"
		native_for "$v" >"$BATS_TEST_TMPDIR/u-$v.oracle"
		compare_records "$v" "$BATS_TEST_TMPDIR/u-$v.oracle" "$RECORDS/$v.rec" "$BATS_TEST_TMPDIR/u-$v"
		cat "$BATS_TEST_TMPDIR/u-$v.used" >>"$used"
	done
	local stale
	stale=$(awk 'NR == FNR { used[$1] = 1; next }
		     !/^[ \t]*(#|$)/ && !(FNR in used) { printf "line %d: %s\n", FNR, $0 }' \
		"$used" "$EXCEPTIONS")
	# An exception for scenarios the host kernel could not be asked about
	# (leave_out_what_the_host_lacks) is not stale.
	if [[ -n $stale && -s $RECORDS/host.excluded ]]; then
		local line pat kept='' name
		while IFS= read -r line; do
			pat=${line#line *: }
			pat=${pat%%[[:space:]]*}
			pat=${pat#*:}
			while IFS= read -r name; do
				# shellcheck disable=SC2053 # a glob on purpose
				[[ $name == $pat ]] && continue 2
			done <"$RECORDS/host.excluded"
			kept+="$line"$'\n'
		done <<<"$stale"
		stale=${kept%$'\n'}
	fi
	if [[ -n $stale ]]; then
		echo "exceptions no variant needs any more (remove them):"
		echo "$stale"
		return 1
	fi
}

# process_madvise with vectors of several ranges (the scenarios above and the
# fuzzer give one range a call): empty ranges, ranges outside user space and
# the cut of the total at MAX_RW_COUNT, line for line as the kernel.
pm_vectors_same() {
	local prog="$TEST_PROGS_DIR/madvise-pm-vectors" native
	native=$("$prog") || fail "natively: status $?"
	run "$@" env LD_PRELOAD="$MADVISE_SHIM_LIB" "$prog"
	assert_success
	diff <(echo "$native") <(echo "$output") || fail "differs from the native kernel (< native, > shim)"
}

@test "process_madvise vectors: the kernel's results and cuts [sim]" { pm_vectors_same "$MADVISE_SIM" --; }
@test "process_madvise vectors: the kernel's results and cuts [sim-4.4]" { pm_vectors_same "$MADVISE_SIM" --kernel 4.4 --; }
