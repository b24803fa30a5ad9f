#!/usr/bin/env bats
# Tests for the madvise-shim wrapper script (scripts/madvise-shim.in as
# configured in the build tree).  The script runs through its #!/bin/sh line,
# which is dash on Debian.
#
# Environment (from tests/meson.build): MADVISE_SHIM_CMD, MADVISE_SHIM_LIB,
# BUILD_ROOT, SOURCE_ROOT.

# shellcheck disable=SC2016,SC2154 # literal $ on purpose; run sets $stderr*
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
load lib/host

# Absolute path with the directory part resolved, as the wrapper prints it.
physical() {
	local dir base
	dir=$(dirname -- "$1")
	base=$(basename -- "$1")
	dir=$(cd -- "$dir" && pwd -P) || return 1
	printf '%s/%s\n' "${dir%/}" "$base"
}

# Python is always there: meson runs on it.
json_get() {  # json_get KEY < JSON
	python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

setup_file() {
	[ -n "${MADVISE_SHIM_CMD:-}" ] || {
		echo "MADVISE_SHIM_CMD is not set; run through meson test" >&2
		return 1
	}
	[ -x "$MADVISE_SHIM_CMD" ] || {
		echo "$MADVISE_SHIM_CMD is not executable" >&2
		return 1
	}
	[ -f "${MADVISE_SHIM_LIB:-}" ] || {
		echo "MADVISE_SHIM_LIB does not name the built library" >&2
		return 1
	}

	# A statically linked program and a static PIE one, when the toolchain
	# can make them (glibc's static libraries come with libc6-dev).
	local src=$BATS_FILE_TMPDIR/static.c
	printf '%s\n' '#include <stdio.h>' \
		'int main(void) { puts("static program ran"); return 7; }' >"$src"
	cc -static -o "$BATS_FILE_TMPDIR/static-prog" "$src" 2>/dev/null ||
		rm -f "$BATS_FILE_TMPDIR/static-prog"
	cc -static-pie -fPIE -o "$BATS_FILE_TMPDIR/static-pie-prog" "$src" 2>/dev/null ||
		rm -f "$BATS_FILE_TMPDIR/static-pie-prog"

	# The installed layout: what `meson install` would put on the system.
	local installed
	installed=$(meson introspect --installed "$BUILD_ROOT") || return 1
	INSTALLED_SCRIPT=$(json_get "$(physical "$MADVISE_SHIM_CMD")" <<<"$installed" 2>/dev/null ||
		json_get "$MADVISE_SHIM_CMD" <<<"$installed")
	INSTALLED_LIB=$(json_get "$(physical "$MADVISE_SHIM_LIB")" <<<"$installed" 2>/dev/null ||
		json_get "$MADVISE_SHIM_LIB" <<<"$installed")
	DESTDIR_ROOT=$BATS_FILE_TMPDIR/destdir
	meson install -C "$BUILD_ROOT" --no-rebuild --quiet --destdir "$DESTDIR_ROOT" \
		>"$BATS_FILE_TMPDIR/install.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/install.log" >&2
		return 1
	}
	export INSTALLED_SCRIPT INSTALLED_LIB DESTDIR_ROOT
}

setup() {
	LIB=$(physical "$MADVISE_SHIM_LIB")
	TMP=$(cd -- "$BATS_TEST_TMPDIR" && pwd -P)
	unset LD_PRELOAD MADVISE_SHIM_MODE
	export LIB TMP
}

shim() {
	"$MADVISE_SHIM_CMD" "$@"
}

# The stderr of the last `run --separate-stderr` is exactly one line that
# starts with "madvise-shim: " and matches the extended regex $1.
assert_one_line_error() {
	assert_equal "${#stderr_lines[@]}" 1
	assert_regex "$stderr" '^madvise-shim: '
	assert_regex "$stderr" "$1"
}

# Writes a minimal ELF file: FILE CLASS(32|64) ENDIAN(le|be) and the p_type of
# its second program header (3 is PT_INTERP, 4 PT_NOTE).  e_machine is
# EM_NONE, so the kernel refuses to run it whatever the host.
make_elf() {
	local file=$1 class=$2 endian=$3 second=$4
	emit() {  # emit SIZE VALUE in $endian byte order
		local size=$1 value=$2 i shift byte escapes=
		for ((i = 0; i < size; i++)); do
			if [ "$endian" = le ]; then shift=$((8 * i)); else shift=$((8 * (size - 1 - i))); fi
			printf -v byte '\\x%02x' $(((value >> shift) & 255))
			escapes+=$byte
		done
		printf '%b' "$escapes"
	}
	{
		printf '\x7fELF'
		if [ "$class" = 64 ]; then printf '\x02'; else printf '\x01'; fi
		if [ "$endian" = le ]; then printf '\x01'; else printf '\x02'; fi
		printf '\x01'                      # EI_VERSION
		printf '\x00%.0s' 1 2 3 4 5 6 7 8 9 # EI_OSABI and padding to 16
		emit 2 2                           # e_type ET_EXEC
		emit 2 0                           # e_machine EM_NONE
		emit 4 1                           # e_version
		if [ "$class" = 64 ]; then
			emit 8 0; emit 8 64; emit 8 0    # e_entry, e_phoff, e_shoff
			emit 4 0                         # e_flags
			emit 2 64; emit 2 56; emit 2 2   # e_ehsize, e_phentsize, e_phnum
			emit 2 64; emit 2 0; emit 2 0    # e_shentsize, e_shnum, e_shstrndx
			local type
			for type in 1 "$second"; do      # p_type, p_flags, 6 x 8 bytes
				emit 4 "$type"; emit 4 5
				emit 8 0; emit 8 0; emit 8 0; emit 8 0; emit 8 0; emit 8 0
			done
		else
			emit 4 0; emit 4 52; emit 4 0    # e_entry, e_phoff, e_shoff
			emit 4 0                         # e_flags
			emit 2 52; emit 2 32; emit 2 2   # e_ehsize, e_phentsize, e_phnum
			emit 2 40; emit 2 0; emit 2 0
			local type
			for type in 1 "$second"; do      # p_type and 7 x 4 bytes
				emit 4 "$type"
				emit 4 0; emit 4 0; emit 4 0; emit 4 0; emit 4 0; emit 4 5; emit 4 0
			done
		fi
	} >"$file"
	chmod +x "$file"
}

# --- the script itself --------------------------------------------------------

@test "the configured script is POSIX sh that dash accepts, fully substituted" {
	run head -n 1 "$MADVISE_SHIM_CMD"
	assert_output '#!/bin/sh'
	run dash -n "$MADVISE_SHIM_CMD"
	assert_success
	assert_output ''
	run grep -E '@(VERSION|LIBDIR)@' "$MADVISE_SHIM_CMD"
	assert_failure 1
}

@test "it also runs when started by dash explicitly" {
	run --separate-stderr dash "$MADVISE_SHIM_CMD" printenv LD_PRELOAD
	assert_success
	assert_output "$LIB"
	assert_equal "$stderr" ''
}

@test "--version prints the project version" {
	local version
	version=$(meson introspect --projectinfo "$BUILD_ROOT" | json_get version)
	run --separate-stderr shim --version
	assert_success
	assert_output "madvise-shim $version"
	assert_equal "$stderr" ''
}

@test "--help and -h print usage, options and environment, and exit 0" {
	local opt
	for opt in --help -h; do
		run --separate-stderr shim "$opt"
		assert_success
		assert_equal "$stderr" ''
		assert_line --index 0 --regexp '^usage: madvise-shim \[--mode auto\|emulate\|off\] \[--log stderr\|FILE\] \[--stats\] \[--lib PATH\] \[--\] COMMAND'
	assert_line --index 1 --regexp '^ +madvise-shim --probe'
		assert_line --partial '--mode MODE'
		assert_line --partial '--lib PATH'
		assert_line --partial '--version'
		assert_line --regexp '^ +auto '
		assert_line --regexp '^ +emulate '
		assert_line --regexp '^ +off '
		assert_line --regexp '^ +MADVISE_SHIM_LIB '
		assert_line --regexp '^ +MADVISE_SHIM_MODE '
		assert_line --regexp '^ +LD_PRELOAD '
	done
}

@test "--help wins over a COMMAND and does not run it" {
	run shim --mode auto --help touch "$TMP/ran"
	assert_success
	assert_line --index 0 --partial 'usage: madvise-shim'
	[ ! -e "$TMP/ran" ]
}

# --- LD_PRELOAD -----------------------------------------------------------------

@test "the child sees the library in LD_PRELOAD when LD_PRELOAD was unset" {
	run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$LIB"
	assert_equal "$stderr" ''
}

@test "an empty LD_PRELOAD gets no trailing separator" {
	LD_PRELOAD='' run --separate-stderr shim sh -c 'printf "[%s]\n" "$LD_PRELOAD"'
	assert_success
	assert_output "[$LIB]"
}

@test "the user's LD_PRELOAD entries are kept, in order, after the library" {
	# The entries do not exist: the loader complains on stderr and goes on.
	LD_PRELOAD=/nonexistent/a.so:/nonexistent/b.so \
		run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$LIB:/nonexistent/a.so:/nonexistent/b.so"

	LD_PRELOAD='/nonexistent/c.so /nonexistent/d.so' \
		run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$LIB:/nonexistent/c.so /nonexistent/d.so"
}

@test "the library is not added again when it is already first" {
	LD_PRELOAD=$LIB run --separate-stderr shim printenv LD_PRELOAD
	assert_output "$LIB"
	LD_PRELOAD="$LIB:/nonexistent/a.so" run --separate-stderr shim printenv LD_PRELOAD
	assert_output "$LIB:/nonexistent/a.so"
	LD_PRELOAD="$LIB /nonexistent/a.so" run --separate-stderr shim printenv LD_PRELOAD
	assert_output "$LIB /nonexistent/a.so"
}

@test "a library further down LD_PRELOAD is put in front" {
	LD_PRELOAD="/nonexistent/a.so:$LIB" run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$LIB:/nonexistent/a.so:$LIB"
}

@test "running the wrapper twice does not stack the library" {
	run --separate-stderr shim "$MADVISE_SHIM_CMD" printenv LD_PRELOAD
	assert_success
	assert_output "$LIB"
}

# --- --mode ---------------------------------------------------------------------

@test "--mode M and --mode=M set MADVISE_SHIM_MODE for the child" {
	local m
	for m in auto emulate off; do
		run --separate-stderr shim --mode "$m" printenv MADVISE_SHIM_MODE
		assert_success
		assert_output "$m"
		run --separate-stderr shim --mode="$m" printenv MADVISE_SHIM_MODE
		assert_success
		assert_output "$m"
	done
}

@test "the last --mode wins and overrides the environment" {
	MADVISE_SHIM_MODE=off run shim --mode auto --mode=emulate printenv MADVISE_SHIM_MODE
	assert_success
	assert_output emulate
}

@test "without --mode, MADVISE_SHIM_MODE is passed on unchanged or stays unset" {
	MADVISE_SHIM_MODE=emulate run shim printenv MADVISE_SHIM_MODE
	assert_success
	assert_output emulate
	run shim printenv MADVISE_SHIM_MODE
	assert_failure 1
	assert_output ''
}

@test "a bad mode is a usage error listing the accepted modes" {
	local bad
	for bad in --mode=bogus --mode=EMULATE --mode= "--mode fast"; do
		# shellcheck disable=SC2086 # "--mode fast" is two words on purpose
		run --separate-stderr shim $bad touch "$TMP/ran"
		assert_failure 2
		assert_output ''
		assert_one_line_error "mode.*auto, emulate, off"
	done
	assert_regex "$stderr" "'fast'"
	[ ! -e "$TMP/ran" ]
}

# --- usage errors ---------------------------------------------------------------

@test "an unknown option is a usage error naming it and the accepted options" {
	local opt
	for opt in --frobnicate -x --mode-x --LIB; do
		run --separate-stderr shim "$opt" touch "$TMP/ran"
		assert_failure 2
		assert_output ''
		assert_one_line_error "'$opt'.*--mode.*--lib.*--help.*--version"
	done
	[ ! -e "$TMP/ran" ]
}

@test "a missing COMMAND is a usage error showing the usage" {
	local args
	for args in "" "--mode auto" "--" "--lib $LIB --"; do
		# shellcheck disable=SC2086
		run --separate-stderr shim $args
		assert_failure 2
		assert_output ''
		assert_one_line_error 'missing COMMAND.*usage: madvise-shim .*COMMAND'
	done
}

@test "a missing option argument is a usage error" {
	run --separate-stderr shim --mode
	assert_failure 2
	assert_one_line_error "'--mode'.*argument.*auto, emulate or off"

	run --separate-stderr shim --lib
	assert_failure 2
	assert_one_line_error "'--lib'.*argument"

	run --separate-stderr shim --lib= true
	assert_failure 2
	assert_one_line_error "'--lib'.*argument"
}

# --- finding the library ------------------------------------------------------------

@test "--lib PATH and --lib=PATH preload that library" {
	mkdir "$TMP/custom"
	cp "$LIB" "$TMP/custom/libcopy.so"
	run --separate-stderr shim --lib "$TMP/custom/libcopy.so" printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/custom/libcopy.so"
	run --separate-stderr shim --lib="$TMP/custom/libcopy.so" printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/custom/libcopy.so"
}

@test "--lib takes precedence over MADVISE_SHIM_LIB" {
	cp "$LIB" "$TMP/libcopy.so"
	MADVISE_SHIM_LIB=/nonexistent/lib.so \
		run --separate-stderr shim --lib "$TMP/libcopy.so" printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/libcopy.so"
}

@test "a relative --lib path is made absolute" {
	mkdir -p "$TMP/work/sub"
	cp "$LIB" "$TMP/work/sub/libcopy.so"
	cd "$TMP/work"
	run --separate-stderr shim --lib sub/libcopy.so printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/work/sub/libcopy.so"
	cd sub
	run --separate-stderr shim --lib libcopy.so printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/work/sub/libcopy.so"
	run --separate-stderr shim --lib ../sub/./libcopy.so printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/work/sub/libcopy.so"
}

@test "--lib that does not exist or is not a regular file is an error" {
	run --separate-stderr shim --lib "$TMP/missing.so" touch "$TMP/ran"
	assert_failure 125
	assert_output ''
	assert_one_line_error "$TMP/missing.so.*no such file"

	mkdir "$TMP/dir.so"
	run --separate-stderr shim --lib "$TMP/dir.so" touch "$TMP/ran"
	assert_failure 125
	assert_one_line_error "$TMP/dir.so.*not a regular file"
	[ ! -e "$TMP/ran" ]
}

@test "MADVISE_SHIM_LIB is used when --lib is not given" {
	cp "$LIB" "$TMP/libenv.so"
	MADVISE_SHIM_LIB=$TMP/libenv.so run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/libenv.so"
	cd "$TMP"
	MADVISE_SHIM_LIB=libenv.so run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/libenv.so"
}

@test "a MADVISE_SHIM_LIB that does not exist is an error, not a fallback" {
	MADVISE_SHIM_LIB=$TMP/missing.so run --separate-stderr shim touch "$TMP/ran"
	assert_failure 125
	assert_one_line_error "$TMP/missing.so.*MADVISE_SHIM_LIB.*no such file"
	[ ! -e "$TMP/ran" ]
}

@test "a library path with a space or a colon is refused" {
	local dir
	for dir in "with space" "with:colon"; do
		mkdir "$TMP/$dir"
		cp "$LIB" "$TMP/$dir/lib.so"
		run --separate-stderr shim --lib "$TMP/$dir/lib.so" touch "$TMP/ran"
		assert_failure 125
		assert_output ''
		assert_one_line_error "space or a colon"
	done
	# Also when only the current directory, not the given path, has one.
	cd "$TMP/with space"
	run --separate-stderr shim --lib lib.so touch "$TMP/ran"
	assert_failure 125
	assert_one_line_error "'$TMP/with space/lib.so'.*space or a colon"
	[ ! -e "$TMP/ran" ]
}

@test "without --lib or MADVISE_SHIM_LIB the build tree's library is found" {
	unset MADVISE_SHIM_LIB
	local expected
	expected=$(physical "$BUILD_ROOT/shim/libmadvise-shim.so")
	run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$expected"

	# Through a relative path to the script, ...
	cd "$BUILD_ROOT"
	run --separate-stderr scripts/madvise-shim printenv LD_PRELOAD
	assert_success
	assert_output "$expected"

	# ... a symlink elsewhere, found in PATH, ...
	mkdir "$TMP/bin"
	ln -s "$MADVISE_SHIM_CMD" "$TMP/bin/madvise-shim"
	cd "$TMP"
	PATH="$TMP/bin:$PATH" run --separate-stderr madvise-shim printenv LD_PRELOAD
	assert_success
	assert_output "$expected"

	# ... and with an empty MADVISE_SHIM_LIB.
	MADVISE_SHIM_LIB='' run --separate-stderr shim printenv LD_PRELOAD
	assert_success
	assert_output "$expected"
}

@test "the build-tree library is looked for next to the script, not at a fixed place" {
	unset MADVISE_SHIM_LIB
	mkdir -p "$TMP/build/scripts" "$TMP/build/shim"
	cp "$MADVISE_SHIM_CMD" "$TMP/build/scripts/madvise-shim"
	cp "$LIB" "$TMP/build/shim/libmadvise-shim.so"
	run --separate-stderr "$TMP/build/scripts/madvise-shim" printenv LD_PRELOAD
	assert_success
	assert_output "$TMP/build/shim/libmadvise-shim.so"
}

@test "no library anywhere is an error naming every place looked at" {
	unset MADVISE_SHIM_LIB
	[ ! -e "$INSTALLED_LIB" ] ||
		skip_host "$INSTALLED_LIB is installed on this system"
	mkdir -p "$TMP/build/scripts"
	cp "$MADVISE_SHIM_CMD" "$TMP/build/scripts/madvise-shim"
	run --separate-stderr "$TMP/build/scripts/madvise-shim" touch "$TMP/ran"
	assert_failure 125
	assert_output ''
	assert_one_line_error "cannot find libmadvise-shim.so"
	assert_regex "$stderr" "$TMP/build/shim/libmadvise-shim.so"
	assert_regex "$stderr" "$INSTALLED_LIB"
	assert_regex "$stderr" "--lib.*MADVISE_SHIM_LIB"
	[ ! -e "$TMP/ran" ]
}

# --- installed layout (meson install --destdir in setup_file) --------------------

@test "meson installs the script and library where the script looks" {
	local script=$DESTDIR_ROOT$INSTALLED_SCRIPT
	[ -x "$script" ]
	[ -f "$DESTDIR_ROOT$INSTALLED_LIB" ]
	run dash -n "$script"
	assert_success
	# The configured LIBDIR is the directory the library is installed in.
	run --separate-stderr "$script" --help
	assert_success
	assert_output --partial "$INSTALLED_LIB"
}

@test "the installed script reports its LIBDIR when the library is not there" {
	unset MADVISE_SHIM_LIB
	[ ! -e "$INSTALLED_LIB" ] ||
		skip_host "$INSTALLED_LIB is installed on this system"
	run --separate-stderr "$DESTDIR_ROOT$INSTALLED_SCRIPT" touch "$TMP/ran"
	assert_failure 125
	assert_one_line_error "cannot find libmadvise-shim.so.*$INSTALLED_LIB"
	[ ! -e "$TMP/ran" ]
}

@test "the installed script finds the library in its LIBDIR" {
	unset MADVISE_SHIM_LIB
	# Point the installed script's LIBDIR into the DESTDIR tree; everything
	# else stays as installed.
	local libdir=${INSTALLED_LIB%/*}
	local relocated=$TMP/installed/bin/madvise-shim
	mkdir -p "${relocated%/*}"
	sed "s|$libdir|$DESTDIR_ROOT$libdir|g" "$DESTDIR_ROOT$INSTALLED_SCRIPT" >"$relocated"
	chmod +x "$relocated"
	run --separate-stderr "$relocated" printenv LD_PRELOAD
	assert_success
	assert_output "$(physical "$DESTDIR_ROOT$INSTALLED_LIB")"
	assert_equal "$stderr" ''
}

# --- warnings about the command -----------------------------------------------------

@test "a dynamically linked command gets no warning" {
	run --separate-stderr shim true
	assert_success
	assert_equal "$stderr" ''
	run --separate-stderr shim /bin/true
	assert_success
	assert_equal "$stderr" ''
}

@test "a statically linked command gets a warning and still runs" {
	[ -x "$BATS_FILE_TMPDIR/static-prog" ] || skip_missing "a static C library for cc -static" libc6-dev
	run --separate-stderr shim "$BATS_FILE_TMPDIR/static-prog"
	assert_failure 7
	assert_output 'static program ran'
	assert_one_line_error '^madvise-shim: warning: .*static-prog.*statically linked'
}

@test "a static PIE command gets a warning and still runs" {
	[ -x "$BATS_FILE_TMPDIR/static-pie-prog" ] || skip_missing "a static-pie C library for cc -static-pie" libc6-dev
	run --separate-stderr shim "$BATS_FILE_TMPDIR/static-pie-prog"
	assert_failure 7
	assert_output 'static program ran'
	assert_one_line_error '^madvise-shim: warning: .*static-pie-prog.*statically linked'
}

@test "a static command found through PATH is checked, not just paths with a slash" {
	[ -x "$BATS_FILE_TMPDIR/static-prog" ] || skip_missing "a static C library for cc -static" libc6-dev
	mkdir "$TMP/bin"
	cp "$BATS_FILE_TMPDIR/static-prog" "$TMP/bin/static-prog"
	PATH="$TMP/bin:$PATH" run --separate-stderr shim static-prog
	assert_failure 7
	assert_one_line_error "^madvise-shim: warning: $TMP/bin/static-prog.*statically linked"
}

@test "ELF headers are read for 32/64-bit and little/big endian files" {
	local class endian
	for class in 32 64; do
		for endian in le be; do
			make_elf "$TMP/dyn-$class-$endian" "$class" "$endian" 3
			make_elf "$TMP/static-$class-$endian" "$class" "$endian" 4

			# The kernel refuses EM_NONE, so the exec itself fails.
			run --separate-stderr shim "$TMP/static-$class-$endian"
			assert_failure
			assert_regex "${stderr_lines[0]}" "^madvise-shim: warning: $TMP/static-$class-$endian is statically linked"

			run --separate-stderr shim "$TMP/dyn-$class-$endian"
			assert_failure
			refute_regex "$stderr" 'madvise-shim: warning'
		done
	done
}

@test "files that are not ELF executables get no warning" {
	printf '#!/bin/sh\necho "script ran $LD_PRELOAD"\n' >"$TMP/script"
	chmod +x "$TMP/script"
	run --separate-stderr shim "$TMP/script"
	assert_success
	assert_output "script ran $LIB"
	assert_equal "$stderr" ''

	# Truncated ELF, and an ELF relocatable object (e_type ET_REL).
	printf '\177ELF\002\001' >"$TMP/truncated"
	make_elf "$TMP/object" 64 le 4
	printf '\001' | dd of="$TMP/object" bs=1 seek=16 conv=notrunc 2>/dev/null
	chmod +x "$TMP/truncated" "$TMP/object"
	# The wrapper still execs them, and the kernel refuses them (ENOEXEC:
	# the shell's 126), as it would without the wrapper.
	run --separate-stderr shim "$TMP/truncated"
	assert_failure 126
	refute_regex "$stderr" 'madvise-shim: warning'
	refute_regex "$stderr" 'od:'
	assert_regex "$stderr" 'Exec format error'
	run --separate-stderr shim "$TMP/object"
	assert_failure 126
	refute_regex "$stderr" 'madvise-shim: warning'
	assert_regex "$stderr" 'Exec format error'
}

@test "a setuid or setgid command gets a warning and still runs" {
	cp /bin/true "$TMP/suid-true"
	chmod u+s "$TMP/suid-true"
	run --separate-stderr shim "$TMP/suid-true"
	assert_success
	assert_one_line_error "^madvise-shim: warning: $TMP/suid-true is setuid"

	cp /bin/true "$TMP/sgid-true"
	chmod g+s "$TMP/sgid-true"
	run --separate-stderr shim "$TMP/sgid-true"
	assert_success
	assert_one_line_error "^madvise-shim: warning: $TMP/sgid-true is setgid"

	cp /bin/true "$TMP/both-true"
	chmod ug+s "$TMP/both-true"
	run --separate-stderr shim "$TMP/both-true"
	assert_success
	assert_equal "${#stderr_lines[@]}" 2
	assert_regex "${stderr_lines[0]}" '^madvise-shim: warning: .* is setuid'
	assert_regex "${stderr_lines[1]}" '^madvise-shim: warning: .* is setgid'

	cp /bin/true "$TMP/plain-true"
	run --separate-stderr shim "$TMP/plain-true"
	assert_success
	assert_equal "$stderr" ''
}

# --- running the command ---------------------------------------------------------

@test "the command's exit status is passed through" {
	run shim sh -c 'exit 42'
	assert_failure 42
	run shim false
	assert_failure 1
	run shim sh -c 'kill -TERM $$'
	assert_failure 143
}

@test "arguments reach the command unchanged" {
	run --separate-stderr shim printf '<%s>\n' 'a b' '' '*' '--mode' '--' '$HOME'
	assert_success
	assert_equal "${#lines[@]}" 6
	assert_line --index 0 '<a b>'
	assert_line --index 1 '<>'
	assert_line --index 2 '<*>'
	assert_line --index 3 '<--mode>'
	assert_line --index 4 '<-->'
	assert_line --index 5 '<$HOME>'
}

@test "the first non-option starts COMMAND; later options are its own" {
	run --separate-stderr shim sh -c 'printf "%s\n" "$@"' sh --help --mode bogus --version
	assert_success
	assert_output $'--help\n--mode\nbogus\n--version'
	assert_equal "$stderr" ''
}

@test "-- ends the options" {
	run --separate-stderr shim --mode off -- printenv MADVISE_SHIM_MODE
	assert_success
	assert_output off

	# A COMMAND that looks like an option.
	mkdir "$TMP/bin"
	printf '#!/bin/sh\necho "dash command ran: $*"\n' >"$TMP/bin/--version"
	chmod +x "$TMP/bin/--version"
	PATH="$TMP/bin:$PATH" run --separate-stderr shim -- --version x
	assert_success
	assert_output 'dash command ran: x'

	# Only the first -- belongs to the wrapper.
	run --separate-stderr shim -- printf '%s\n' -- a
	assert_success
	assert_output $'--\na'
}

@test "a command that is not found exits 127 with one line" {
	run -127 --separate-stderr shim no-such-command-madvise-shim arg
	assert_failure 127
	assert_output ''
	assert_one_line_error '^madvise-shim: no-such-command-madvise-shim: not found$'

	run -127 --separate-stderr shim "$TMP/no/such/file"
	assert_failure 127
	assert_one_line_error "^madvise-shim: $TMP/no/such/file: not found$"
}

@test "a command that cannot be executed exits 126 with one line" {
	printf 'echo hi\n' >"$TMP/not-executable"
	chmod 644 "$TMP/not-executable"
	run --separate-stderr shim "$TMP/not-executable"
	assert_failure 126
	assert_one_line_error "$TMP/not-executable: not executable"

	run --separate-stderr shim "$TMP"
	assert_failure 126
	assert_one_line_error "$TMP: not executable"
}

@test "COMMAND is looked up in PATH like exec does" {
	mkdir "$TMP/a" "$TMP/b"
	printf '#!/bin/sh\necho from-a\n' >"$TMP/a/prog"   # not executable: skipped
	printf '#!/bin/sh\necho from-b\n' >"$TMP/b/prog"
	chmod +x "$TMP/b/prog"
	PATH="$TMP/a:$TMP/b:/usr/bin:/bin" run --separate-stderr shim prog
	assert_success
	assert_output from-b

	# An empty PATH entry is the current directory.
	cd "$TMP/b"
	PATH="/usr/bin:/bin:" run --separate-stderr shim prog
	assert_success
	assert_output from-b

	# (env, since bats itself needs PATH)
	run --separate-stderr env PATH="$TMP/a" "$MADVISE_SHIM_CMD" prog
	assert_failure 126
	assert_one_line_error "$TMP/a/prog: not executable"
}
