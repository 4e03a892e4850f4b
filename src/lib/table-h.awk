# table-h.awk: C tables (arrays of struct initializers) from declarations
# written as data, one record a line.
#
#   awk -f table-h.awk [SHARED.tab ...] FILE.tab >FILE.h
#   awk -v list='*' -f table-h.awk [SHARED.tab ...] FILE.tab
#   awk -v list=NAME -f table-h.awk [SHARED.tab ...] FILE.tab
#
# The build writes FILE.h of the tables of the LAST file; the files before it
# give what that file refers to (record forms, templates, tables by name).
# With -v list=, it writes nothing but the first field of every row of the
# last file's tables ('*') or of table NAME, and of the tables their "ref"
# fields name (a program's option names, for a test).  A row that is wrong
# (unknown word for an enum or flags field, a missing or unknown field, a key
# field given twice, no text where the record has a text field, a template's
# arguments miscounted) stops the build with FILE:LINE: what.  Examples:
# src/lib/opt.tab (the option forms and shared rows), src/sink-http/options.tab.
#
# A file is lines; "#" starts a comment line; words are separated by blanks
# and a word with blanks is "double-quoted" (\" and \\ inside).
#
#   record NAME "C TYPE" "END"	a record form (the C struct; END is the
#					initializer that ends a table), then its
#					fields, one a line, indented:
#	pos MEMBER HOW [key|tablekey]	a positional field: a row gives
#				it by place; "-" leaves it out (NULL); "key":
#				the row's name, at most once among the rows the
#				file's tables reach (theirs and those of the
#				tables they ref); "tablekey": once in its table
#	opt MEMBER HOW		a field given as MEMBER=VALUE
#	text MEMBER		the row's indented lines, joined by one blank
#     HOW: str (a C string), expr (C text as written), ref (expr naming
#     a table: list mode follows it), enum PREFIX WORD... (PREFIX WORD in
#     upper case), flags PREFIX WORD... (WORD,WORD: their | ), pairs
#     "C TYPE" (NAME=VALUE,...: an array of { "NAME", VALUE } ended by
#     { NULL, 0 }, as a compound literal), words (WORD,...: an array of
#     C strings ended by NULL, as a compound literal).
#   table RECORD CNAME [global]	a C array of RECORD, static unless global;
#				its rows follow, up to the next table:
#   ROW				the pos fields, then MEMBER=VALUE words; its
#	more text		text field on the indented lines after it
#   use TEMPLATE ARG...		a template's rows, with its $PARAMs replaced
#   template NAME PARAM...	rows (with $PARAM in them; "use" too) up to
#				"end"
#   end
#
# One line can feed two tables (a configuration key is a row of its
# section's schema and of the stage option it becomes):
#
#   ROW > TABLE[@N] ROW2	ROW2 is a row of TABLE (declared before),
#				a word "$" or "MEMBER=$" in it ROW's first word
#   @N ROW			a row placed by N: a table whose rows have
#				places is written in their order (every row
#				one, each N once in the table)
#
# With -v record=NAME, only the tables of record NAME are written (a file
# whose tables go to two C files).
#
# Output: for each table, `[static ]const TYPE CNAME[] = { {.MEMBER = V,
# ...}, ..., END };` with a "made from" line first; members in the order
# the record declares its fields (write them in the struct's order).

function fail(msg, where) {
	if (where == "")
		where = FILENAME ":" FNR
	printf "%s: %s\n", where, msg >"/dev/stderr"
	failed = 1
	exit 1
}

# (gsub's replacement text treats backslashes differently in each awk)
function cstr(s,    out, i, c) {
	out = ""
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (c == "\\" || c == "\"")
			out = out "\\"
		out = out c
	}
	return "\"" out "\""
}

# Split line s into words w[1..n] (quotes, \" and \\ inside them); returns n.
function words(s, w,    n, c, i, cur, inq, started) {
	n = 0; cur = ""; inq = 0; started = 0
	for (i = 1; i <= length(s); i++) {
		c = substr(s, i, 1)
		if (inq) {
			if (c == "\\" && i < length(s)) {
				i++
				cur = cur substr(s, i, 1)
			} else if (c == "\"")
				inq = 0
			else
				cur = cur c
		} else if (c == " " || c == "\t") {
			if (started)
				w[++n] = cur
			cur = ""; started = 0
		} else if (c == "\"") {
			inq = 1; started = 1
		} else {
			cur = cur c; started = 1
		}
	}
	if (inq)
		fail("a quote that does not end")
	if (started)
		w[++n] = cur
	return n
}

# ---- record forms ----

function field_decl(line,    w, n, r, m, i, how) {
	n = words(line, w)
	if (n < 3 && w[1] != "text")
		fail("a field is: pos|opt MEMBER HOW, or text MEMBER")
	r = cur_record
	m = w[2]
	if ((r, m) in fhow)
		fail("field " m " twice in record " r)
	if (w[1] == "text") {
		fhow[r, m] = "text"
		rtext[r] = m
		nfield[r]++
		field[r, nfield[r]] = m
		return
	}
	nfield[r]++
	field[r, nfield[r]] = m
	how = w[3]
	if (how != "str" && how != "expr" && how != "ref" && how != "enum" &&
	    how != "flags" && how != "pairs" && how != "words")
		fail("unknown HOW " how \
		    " (str, expr, ref, enum, flags, pairs, words)")
	fhow[r, m] = how
	if (w[1] == "pos") {
		npos[r]++
		pos[r, npos[r]] = m
	} else if (w[1] != "opt")
		fail("a field is pos, opt or text, not " w[1])
	i = 4
	if (how == "pairs") {
		if (n < 4)
			fail("pairs needs its C element type")
		fprefix[r, m] = w[4]
		i = 5
	}
	if (how == "enum" || how == "flags") {
		if (n < 5)
			fail(how " needs PREFIX and its words")
		fprefix[r, m] = w[4]
		for (i = 5; i <= n && w[i] != "key" && w[i] != "tablekey"; i++)
			fword[r, m, w[i]] = 1
	}
	if (i <= n && (w[i] == "key" || w[i] == "tablekey")) {
		if (w[1] != "pos")
			fail("the key field is a pos field")
		rkey[r] = m
		rkeytable[r] = (w[i] == "tablekey")
		i++
	}
	if (i <= n)
		fail("unknown word " w[i])
}

# ---- rows ----

function value(r, m, v, where,    how, n, p, i, out, eq) {
	how = fhow[r, m]
	if (how == "str" || how == "text")
		return cstr(v)
	if (how == "expr" || how == "ref")
		return v
	if (how == "enum") {
		if (!((r, m, v) in fword))
			fail("unknown " m " " v, where)
		return fprefix[r, m] toupper(v)
	}
	n = split(v, p, ",")
	out = ""
	if (how == "words") {
		for (i = 1; i <= n; i++)
			out = out cstr(p[i]) ", "
		return "(const char *const[]){ " out "NULL }"
	}
	if (how == "pairs") {
		for (i = 1; i <= n; i++) {
			eq = index(p[i], "=")
			if (eq < 2 || eq == length(p[i]))
				fail(m ": NAME=VALUE, not " p[i], where)
			out = out "{ " cstr(substr(p[i], 1, eq - 1)) ", " \
			    substr(p[i], eq + 1) " }, "
		}
		return "(" fprefix[r, m] "[]){ " out "{ NULL, 0 } }"
	}
	for (i = 1; i <= n; i++) {
		if (!((r, m, p[i]) in fword))
			fail("unknown " m " " p[i], where)
		out = out (out == "" ? "" : " | ") fprefix[r, m] toupper(p[i])
	}
	return out
}

# Row line s (its text to follow): stored as row nrow of table cur_table,
# and its linked row ("> TABLE ROW2") in TABLE.
function row(s, where,    w, n, i, g, lw, ln, t, first) {
	if (cur_table == "")
		fail("a row before any table", where)
	n = words(s, w)
	for (g = 1; g <= n && w[g] != ">"; g++)
		;
	first = w[1] ~ /^@[0-9]+$/ ? w[2] : w[1]
	ln = 0
	for (i = g + 1; i <= n; i++) {
		lw[++ln] = w[i]
		if (lw[ln] == "$")
			lw[ln] = first
		else if (lw[ln] ~ /=[$]$/)
			lw[ln] = substr(lw[ln], 1, length(lw[ln]) - 1) first
	}
	add_row(cur_table, w, g - 1, where)
	if (g > n)
		return
	if (ln < 1)
		fail("> with no table", where)
	t = lw[1]
	if (t ~ /@/) {
		lw[1] = substr(t, index(t, "@"))
		t = substr(t, 1, index(t, "@") - 1)
	} else {
		for (i = 1; i < ln; i++)
			lw[i] = lw[i + 1]
		ln--
	}
	if (!(t in trecord))
		fail("no table " t " (declare it before the rows that feed it)",
		    where)
	add_row(t, lw, ln, where)
}

# Words w[1..n] as row nrow of table t ("@N" first: its place).
function add_row(t, w, n, where,    r, i, m, eq, k, o) {
	r = trecord[t]
	o = 0
	if (n >= 1 && w[1] ~ /^@[0-9]+$/) {
		rowplace[nrow + 1] = substr(w[1], 2) + 0
		o = 1
	}
	for (i = 1; i + o <= n; i++)
		w[i] = w[i + o]
	n -= o
	if (n < npos[r])
		fail("a row of " r " starts with " npos[r] " fields, this has " n,
		    where)
	nrow++
	rowtable[nrow] = t
	rowwhere[nrow] = where
	rowfile[nrow] = FILENAME
	rowtext[nrow] = ""
	for (i = 1; i <= npos[r]; i++) {
		m = pos[r, i]
		if (m == rkey[r]) {
			rowkey[nrow] = w[i]
			k = rkeytable[r] ? t SUBSEP w[i] : w[i]
			if (FILENAME == lastfile && k in seenkey)
				fail(m " " w[i] " twice (first " seenkey[k] ")",
				    where)
			if (FILENAME == lastfile)
				seenkey[k] = where
		}
		if (fhow[r, m] == "ref")
			rowref[nrow] = (w[i] == "-" ? "" : w[i])
		if (w[i] != "-")
			rowval[nrow, m] = value(r, m, w[i], where)
	}
	for (; i <= n; i++) {
		eq = index(w[i], "=")
		if (eq < 2)
			fail("after the " npos[r] " fields of " r ", MEMBER=VALUE, not " \
			    w[i], where)
		m = substr(w[i], 1, eq - 1)
		if (!((r, m) in fhow) || fhow[r, m] == "text")
			fail("record " r " has no field " m, where)
		if ((nrow, m) in rowval)
			fail(m " twice", where)
		if (fhow[r, m] == "ref")
			rowref[nrow] = substr(w[i], eq + 1)
		rowval[nrow, m] = value(r, m, substr(w[i], eq + 1), where)
	}
	ntrows[t]++
	trow[t, ntrows[t]] = nrow
}

# A table whose rows have places: in their order.
function place_rows(t,    i, j, k, kv, n, p) {
	n = ntrows[t]
	p = 0
	for (i = 1; i <= n; i++)
		p += (trow[t, i] in rowplace)
	if (p == 0)
		return
	for (i = 1; i <= n; i++)
		if (!(trow[t, i] in rowplace))
			fail("table " t ": a row with no place (@N)",
			    rowwhere[trow[t, i]])
	for (i = 2; i <= n; i++) {
		k = trow[t, i]
		kv = rowplace[k]
		for (j = i - 1; j >= 1 && rowplace[trow[t, j]] > kv; j--)
			trow[t, j + 1] = trow[t, j]
		trow[t, j + 1] = k
	}
	for (i = 2; i <= n; i++)
		if (rowplace[trow[t, i]] == rowplace[trow[t, i - 1]])
			fail("table " t ": place @" rowplace[trow[t, i]] " twice",
			    rowwhere[trow[t, i]])
}

function text(s, where) {
	if (nrow == 0 || rowtable[nrow] != cur_table || cur_table == "")
		fail("indented text with no row before it", where)
	if (rtext[trecord[cur_table]] == "")
		fail("record " trecord[cur_table] " has no text field", where)
	sub(/^[ \t]+/, "", s)
	sub(/[ \t]+$/, "", s)
	rowtext[nrow] = rowtext[nrow] (rowtext[nrow] == "" ? "" : " ") s
}

function use(s, where,    w, n, t, i, j, k, x, ord, line, pname, where2) {
	n = words(s, w)
	t = w[2]
	if (!(t in tmpl_n))
		fail("no template " t, where)
	if (n - 2 != tmpl_np[t])
		fail("template " t " takes " tmpl_np[t] " arguments, not " n - 2,
		    where)
	# the longest names first: $c must not take $conn's start
	for (j = 1; j <= tmpl_np[t]; j++)
		ord[j] = j
	for (j = 1; j <= tmpl_np[t]; j++)
		for (k = j + 1; k <= tmpl_np[t]; k++)
			if (length(tmpl_p[t, ord[k]]) > length(tmpl_p[t, ord[j]])) {
				x = ord[j]; ord[j] = ord[k]; ord[k] = x
			}
	for (i = 1; i <= tmpl_n[t]; i++) {
		line = tmpl_line[t, i]
		for (j = 1; j <= tmpl_np[t]; j++) {
			pname = "$" tmpl_p[t, ord[j]]
			line = replace(line, pname, w[ord[j] + 2])
		}
		where2 = where " (template " t ", " tmpl_where[t, i] ")"
		if (line ~ /^use[ \t]/)
			use(line, where2)
		else if (line ~ /^[ \t]/)
			text(line, where2)
		else
			row(line, where2)
	}
}

function replace(s, from, to,    i, out) {
	out = ""
	while ((i = index(s, from)) > 0) {
		out = out substr(s, 1, i - 1) to
		s = substr(s, i + length(from))
	}
	return out s
}

FNR == 1 {
	if (lastfile == "") {
		for (i = ARGC - 1; i > 0; i--)
			if (ARGV[i] !~ /=/) {
				lastfile = ARGV[i]
				break
			}
	}
	cur_record = ""; cur_table = ""; in_tmpl = ""
}

/^#/ || /^[ \t]*$/ { next }

in_tmpl != "" {
	if ($0 == "end") {
		in_tmpl = ""
		next
	}
	tmpl_n[in_tmpl]++
	tmpl_line[in_tmpl, tmpl_n[in_tmpl]] = $0
	tmpl_where[in_tmpl, tmpl_n[in_tmpl]] = FILENAME ":" FNR
	next
}

/^[ \t]/ {
	if (cur_record != "") {
		field_decl($0)
		next
	}
	text($0, FILENAME ":" FNR)
	next
}

{ cur_record = "" }

$1 == "record" {
	n = words($0, w)
	if (n != 4)
		fail("record NAME \"C TYPE\" \"END\"")
	if (w[2] in rtype)
		fail("record " w[2] " twice")
	cur_record = w[2]
	rtype[w[2]] = w[3]
	rend[w[2]] = w[4]
	npos[w[2]] = 0
	next
}

$1 == "table" {
	n = words($0, w)
	if (n < 3 || n > 4 || (n == 4 && w[4] != "global"))
		fail("table RECORD CNAME [global]")
	if (!(w[2] in rtype))
		fail("no record " w[2])
	if (w[3] in trecord)
		fail("table " w[3] " twice")
	cur_table = w[3]
	trecord[cur_table] = w[2]
	tglobal[cur_table] = (n == 4)
	tfile[cur_table] = FILENAME
	ntrows[cur_table] = 0
	ntables++
	tables[ntables] = cur_table
	next
}

$1 == "template" {
	n = words($0, w)
	if (n < 2)
		fail("template NAME PARAM...")
	if (w[2] in tmpl_n)
		fail("template " w[2] " twice")
	in_tmpl = w[2]
	tmpl_n[in_tmpl] = 0
	tmpl_np[in_tmpl] = n - 2
	for (i = 3; i <= n; i++)
		tmpl_p[in_tmpl, i - 2] = w[i]
	next
}

$1 == "use" {
	use($0, FILENAME ":" FNR)
	next
}

$1 == "end" { fail("end with no template") }

{ row($0, FILENAME ":" FNR) }

# The rows table t reaches (its own, and those of the tables its ref fields
# name): printed (list mode), else checked that no key comes twice.  via:
# the row of the last file that names t, when t is another file's.
function list_table(t, via,    i, k, r, where) {
	if (t in listed)
		return
	listed[t] = 1
	if (!(t in trecord))
		fail("no table " t, via != "" ? via : lastfile)
	for (i = 1; i <= ntrows[t]; i++) {
		k = trow[t, i]
		where = via != "" ? via : rowwhere[k]
		r = rowref[k]
		if (r != "")
			list_table(r, (r in tfile) && tfile[r] != lastfile ? where : "")
		else if (list != "")
			print rowkey[k] != "" ? rowkey[k] : "-"
		else if (rowkey[k] == "" || rkeytable[trecord[t]])
			continue
		else if (rowkey[k] in reached)
			fail(rowkey[k] " twice (first " reached[rowkey[k]] ")",
			    where)
		else
			reached[rowkey[k]] = where
	}
}

END {
	if (failed)
		exit 1
	if (in_tmpl != "")
		fail("template " in_tmpl " has no end", lastfile)
	for (i = 1; i <= ntables; i++)
		place_rows(tables[i])
	for (i = 1; i <= nrow; i++) {
		r = trecord[rowtable[i]]
		if (rtext[r] != "" && rowtext[i] == "" && rowfile[i] == lastfile)
			fail("a row of " r " with no text (" rtext[r] ")",
			    rowwhere[i])
	}
	if (list != "") {
		for (i = 1; i <= ntables; i++) {
			if (list == "*" && tfile[tables[i]] == lastfile)
				list_table(tables[i], "")
			else if (list == tables[i])
				list_table(tables[i], "")
		}
		exit 0
	}
	for (i = 1; i <= ntables; i++)
		if (tfile[tables[i]] == lastfile)
			list_table(tables[i], "")
	printf "/* Made from %s by src/lib/table-h.awk: edit that file. */\n", \
	    lastfile
	for (i = 1; i <= ntables; i++) {
		t = tables[i]
		if (tfile[t] != lastfile)
			continue
		r = trecord[t]
		if (record != "" && r != record)
			continue
		printf "\n%sconst %s %s[] = {\n", tglobal[t] ? "" : "static ",
		    rtype[r], t
		for (j = 1; j <= ntrows[t]; j++) {
			k = trow[t, j]
			if (rtext[r] != "")
				rowval[k, rtext[r]] = cstr(rowtext[k])
			s = ""
			for (f = 1; f <= nfield[r]; f++)
				if ((k, field[r, f]) in rowval)
					s = s (s == "" ? "" : ", ") "." field[r, f] \
					    " = " rowval[k, field[r, f]]
			printf "\t{ %s },\n", s
		}
		printf "\t%s\n};\n", rend[r]
	}
}
