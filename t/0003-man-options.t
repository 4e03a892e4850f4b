#!/bin/sh
# Man pages and --help cannot drift: every option a program's --help lists
# (its opt.h table) has an item in its man page and every item is a real
# option; the same for the table as declared (src/PROG/options.tab with the
# shared rows of src/lib/*.tab, read by the build's generator); --version's
# libraries are named on the page; and every page is clean for mandoc -Tlint
# and for groff's warnings (line breaking included).
. "${0%/*}/lib.sh"
progs="vc-source ce-encode sink-http sink-eventbridge sink-amqp amqp-source horizon-source webhook-source stream-serve"
M=$VP_SRCDIR/man
pages=$(ls "$M")
S=$VP_SRCDIR/src
# the programs whose options are declared as data, and their pages
tabs=$(cd "$S" && ls */options.tab | sed 's|/options.tab$||')
n=0; for p in $progs; do n=$((n + 2)); done; for f in $pages; do n=$((n + 2)); done
for p in $tabs; do n=$((n + 1)); done
plan "$n"
# a missing tool is a skip here, a failure in CI (VP_NO_SKIP)
skip_one() { if [ -n "${VP_NO_SKIP:-}" ]; then not_ok "$1"; else ok "# SKIP $1"; fi; }

for p in $progs; do
	$p --help | sed -n 's/^  --\([a-z0-9.-]*\).*/\1/p' | sort -u >"$T/help"
	# every "Fl -name" on an .It line ("--retry-base, --retry-cap" is one item)
	grep '^\.It .*Fl -' "$M/$p.1" | grep -o 'Fl -[a-z0-9.-]*' | sed 's/^Fl -//' |
		sort -u >"$T/man"
	same "$p: the options of --help are the items of $p(1)" "$T/help" "$T/man"
	# the --version item names what --version prints
	$p --version | sed -n '2,$p' | sed 's/[ /].*//' >"$T/libs"
	sed -n '/^\.It Fl -version/,/^\.\(It\|El\)/p' "$M/$p.1" >"$T/vitem"
	miss=
	while read -r lib; do grep -q "$lib" "$T/vitem" || miss="$miss $lib"; done <"$T/libs"
	is "$p(1): --version names the libraries it prints" "" "$miss"
done

# each table as declared: its rows, the shared groups and rows it takes,
# and the rows every program has, against the page's items (a helper of
# vcpipe(1): the options of its SYNOPSIS form, which does not show --help
# and --version)
LIBTAB="$S/lib/opt.tab $S/lib/sinkcore.tab $S/lib/vpamqp.tab $S/lib/httpd.tab"
tab_names() { awk -v list="$1" -f "$S/lib/table-h.awk" $LIBTAB $2; }
for p in $tabs; do
	{ tab_names '*' "$S/$p/options.tab"; tab_names common_opts ""; } | sort -u >"$T/tab"
	if [ -f "$M/$p.1" ]; then
		grep '^\.It .*Fl -' "$M/$p.1" | grep -o 'Fl -[a-z0-9.-]*' | sed 's/^Fl -//' |
			sort -u >"$T/man"
	else
		# the form in vcpipe(1)'s SYNOPSIS: from ".Nm PROG" to ".Pp" or the end
		sed -n "/^\.Sh SYNOPSIS/,/^\.Sh/p" "$M/vcpipe.1" |
			sed -n "/^\.Nm $p\$/,/^\.\(Pp\|Sh\)/p" |
			grep -o 'Fl -[a-z0-9.-]*' | sed 's/^Fl -//' >"$T/man"
		printf 'help\nversion\n' >>"$T/man"
		sort -u -o "$T/man" "$T/man"
	fi
	same "$p: the options of src/$p/options.tab are the items of its page" "$T/tab" "$T/man"
done

for f in $pages; do
	if command -v mandoc >/dev/null 2>&1; then
		mandoc -Tlint -W warning "$M/$f" >"$T/lint" 2>&1 || true
		same "$f: mandoc -Tlint -W warning is clean" /dev/null "$T/lint"
	else
		skip_one "$f: mandoc not installed"
	fi
	if command -v groff >/dev/null 2>&1; then
		groff -man -ww -z "$M/$f" >"$T/groff" 2>&1 || true
		same "$f: groff -ww (line breaking and the rest) is clean" /dev/null "$T/groff"
	else
		skip_one "$f: groff not installed"
	fi
done
done_testing
