# help-h.awk: a program's identity for --help, read from its man page.
#
#   awk -v prog=PROG -f help-h.awk man/PAGE.1 >help/PROG.h
#
# The man page is the one home of what a program is called, what it does
# (.Nd), how it is called (SYNOPSIS) and where to read more (the page and the
# file formats it names in SEE ALSO).  The build makes a header of it that
# main.c includes, so --help and the page cannot drift:
#
#   #define VP_MAN_PAGE .name = "...", .synopsis = "...", .about = "...", \
#           .see = "..."
#
# --help's usage line is PROG's form in SYNOPSIS (the one that starts with
# ".Nm PROG", or the first): its lines that are not .Op (what must be given),
# with "[OPTION]..." where its .Op lines start.  A line ".Ar WORD" is the
# positional argument the parser takes (".Op Ar WORD": may be left out).
# The description is the .Nd of the page's first name; a page that documents
# several programs (vcpipe(1) and its helpers) says what each other one does
# in an item ".It Nm PROG" of a tag list.  Only the few mdoc macros these
# lines need are known; anything else stops the build with the page's line
# number, rather than print a wrong usage.

function fail(msg) {
	printf "%s:%d: %s\n", FILENAME, FNR, msg >"/dev/stderr"
	failed = 1
	exit 1
}

# \& and \- are the only escapes these lines may hold
function unescape(s) {
	gsub(/\\&/, "", s)
	gsub(/\\-/, "-", s)
	if (index(s, "\\"))
		fail("an escape help-h.awk does not know: " s)
	return s
}

function cstr(s) {
	gsub(/\\/, "\\\\", s)
	gsub(/"/, "\\\"", s)
	return "\"" s "\""
}

function add(w) {
	if (out != "" && !glue)
		out = out " "
	out = out w
	glue = 0
}

# One line of mdoc (without its leading dot) as the terminal shows it.
function render(line,    n, t, i, w, mode, nclose, closer) {
	if (index(line, "\""))
		fail("quoted arguments are not known here")
	n = split(line, t, /[ \t]+/)
	out = ""; glue = 0; mode = ""; nclose = 0
	for (i = 1; i <= n; i++) {
		w = t[i]
		if (w == "")
			continue
		if (w == "Fl" || w == "Ar" || w == "Cm" || w == "Li" ||
		    w == "Ic" || w == "Pa" || w == "No") {
			mode = w
		} else if (w == "Nm") {
			# alone (or before punctuation): the page's first name
			if (i == n || t[i + 1] ~ /^[.,:;)]$/)
				add(page)
			mode = ""
		} else if (w == "Xr") {
			if (i + 2 > n)
				fail("Xr needs a name and a section")
			add(t[i + 1] "(" t[i + 2] ")")
			i += 2
			mode = ""
		} else if (w == "Op" || w == "Pq") {
			add(w == "Op" ? "[" : "(")
			glue = 1
			closer[++nclose] = w == "Op" ? "]" : ")"
			mode = ""
		} else if (w == "Oo") {
			add("[")
			glue = 1
			mode = ""
		} else if (w == "Oc") {
			out = out "]"
			mode = ""
		} else if (w == "Ns") {
			glue = 1
		} else if (w ~ /^[A-Z][a-z][a-z]?$/) {
			fail("a macro help-h.awk does not know: " w)
		} else if (w ~ /^[.,:;)\]]$/) {
			out = out w
		} else {
			add((mode == "Fl" && w != "|" && w != "..." ? "-" : "") \
			    unescape(w))
		}
	}
	while (nclose > 0)
		out = out closer[nclose--]
	return out
}

function text(line) {
	return line ~ /^\./ ? render(substr(line, 2)) : unescape(line)
}

function join(a, b) {
	return a == "" ? b : b == "" ? a : a " " b
}

/^\.Sh / {
	sect = substr($0, 5)
	item = 0
	next
}

sect == "NAME" && /^\.Nm / {
	if (page == "")
		page = $2
	if ($2 == prog)
		name = prog
	next
}

sect == "NAME" && /^\.Nd / {
	if (prog == page) {
		about = unescape(substr($0, 5))
		about = toupper(substr(about, 1, 1)) substr(about, 2) "."
	}
	next
}

sect == "SYNOPSIS" && /^\.Nm/ {
	# PROG's form: ".Nm PROG", or a bare ".Nm" for the page's first name
	inform = ($2 == prog || ($2 == "" && prog == page)) && !seen++
	opts = 0
	next
}

sect == "SYNOPSIS" && /^\.Pp/ {
	inform = 0
	next
}

sect == "SYNOPSIS" && inform {
	if ($0 ~ /^\.Op Ar [A-Z]+$/ || $0 ~ /^\.Ar [A-Z]+( \.\.\.)?$/) {
		args = $NF == "..." ? $(NF - 1) : $NF
		min_args = $1 == ".Op" ? 0 : 1
		max_args = $NF == "..." ? 1000000 : 1
		synopsis = join(synopsis, text($0))
	} else if ($0 ~ /^\.Op /) {
		if (!opts++)
			synopsis = join(synopsis, "[OPTION]...")
	} else if ($0 ~ /^\./) {
		synopsis = join(synopsis, text($0))
	} else
		fail("SYNOPSIS text that is not a macro line")
	next
}

# ".It Nm PROG": what a program that is not the page's first name does
/^\.It Nm / {
	item = $3 == prog && prog != page
	next
}

item && /^\.(It|El|Pp|Bl)/ {
	item = 0
}

item {
	about = join(about, text($0))
	next
}

sect == "SEE ALSO" && /^\.Xr / {
	# the file formats: what a user of the program reads besides its page
	if ($3 ~ /^[57]/) {
		nsee++
		see[nsee] = $2 "(" $3 ")"
	}
	next
}

END {
	if (failed)
		exit 1
	if (name == "")
		fail("no .Nm " prog " in NAME")
	if (!seen)
		fail("no SYNOPSIS form for " prog)
	if (about == "")
		fail("nothing says what " prog " does (.Nd or .It Nm " prog ")")
	seetext = page "(1)"
	for (i = 1; i <= nsee; i++)
		seetext = seetext (i == nsee ? " and " : ", ") see[i]
	printf "/* Made from man/%s.1 by src/lib/help-h.awk: edit the page. */\n", \
	    page
	printf "#define VP_MAN_PAGE \\\n"
	printf "\t.name = %s, \\\n", cstr(name)
	printf "\t.synopsis = %s, \\\n", cstr(synopsis)
	if (args != "")
		printf "\t.args = %s, .min_args = %d, .max_args = %d, \\\n", \
		    cstr(args), min_args, max_args
	printf "\t.about = %s, \\\n", cstr(about)
	printf "\t.see = %s\n", cstr(seetext)
}
