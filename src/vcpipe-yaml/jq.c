/*
 * jq.c: a processor's filter and transform as the program of its jq stage,
 * and the check that refuses a program before anything runs.
 */
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jq.h"
#include "vp.h"

/*
 * The program sees each event as a structured CloudEvent ($vp_ev): a
 * binary-mode line ({"headers","body"}) is shown with its ce- headers as
 * attributes and its body, read as JSON, as data.  The filter passes the
 * event when its first result is neither false nor null (no result: it
 * does not); the transform's first result becomes the event's data.  Each
 * user program stands on lines of its own: a trailing # comment ends there.
 */
static const char jq_defs[] =
	"def vp_binary: has(\"headers\") and (has(\"specversion\") | not);\n"
	"def vp_view: if vp_binary then (.headers | with_entries("
	"select(.key | startswith(\"ce-\")) | .key |= .[3:])) + "
	"{datacontenttype: .headers[\"content-type\"], "
	"data: (.body | try fromjson catch .)} else . end;\n"
	"def vp_data($d): if vp_binary then "
	".headers[\"content-type\"] = \"application/json\" | "
	".body = ($d | tojson) else "
	"del(.data_base64) | .datacontenttype = \"application/json\" | "
	".data = $d end;\n"
	"def vp_bare: if vp_binary then .body = \"\" else "
	"del(.data, .data_base64) end;\n"
	"def vp_msg: if type == \"string\" then . else tojson end;\n";

char *
jq_program(const char *filter, const char *transform, int records)
{
	struct vp_buf b = { 0 };

	vp_buf_printf(&b, "%s. as $vp_line | try (\n"
	    "($vp_line | vp_view) as $vp_ev |\n", jq_defs);
	if (filter)
		vp_buf_printf(&b, "if ([$vp_ev | limit(1; (\n%s\n))] | "
		    ".[0] // false) then\n", filter);
	if (transform)
		vp_buf_printf(&b, "([$vp_ev | limit(1; (\n%s\n))]) as $vp_r |\n"
		    "if $vp_r == [] then error(\"the transform gave no "
		    "result\") else $vp_line | vp_data($vp_r[0]) end\n",
		    transform);
	else
		vp_buf_printf(&b, "$vp_line\n");
	if (filter)
		vp_buf_printf(&b, "else %s end\n", records ?
		    "{vcpipe: \"skip\", event: ($vp_line | vp_bare | tojson)}" :
		    "empty");
	vp_buf_printf(&b, ") catch {vcpipe: \"error\", error: vp_msg, "
	    "event: ($vp_line | tojson)}");
	return b.data;
}

/* Builtins that read input or stop jq: the stage's lines would not match. */
static const char *const banned[] = {
	"input", "inputs", "halt", "halt_error", NULL
};

/*
 * The first banned builtin the program calls, outside strings and
 * comments (string interpolation \(...) is code), or NULL.
 */
static const char *
banned_word(const char *p)
{
	int depth = 0, in_str = 0;
	int marks[64], nmarks = 0;	/* depth at each open interpolation */
	char prev = ' ';

	while (*p) {
		if (in_str) {
			if (*p == '\\' && p[1] == '(') {
				if (nmarks < 64)
					marks[nmarks++] = depth;
				depth++;
				in_str = 0;
				p += 2;
				continue;
			}
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				in_str = 0;
			p++;
			continue;
		}
		if (*p == '"') {
			in_str = 1;
			p++;
			continue;
		}
		if (*p == '#') {
			while (*p && *p != '\n')
				p++;
			continue;
		}
		if (*p == '(')
			depth++;
		if (*p == ')' && depth > 0) {
			depth--;
			if (nmarks > 0 && depth == marks[nmarks - 1]) {
				nmarks--;
				in_str = 1;
				p++;
				continue;
			}
		}
		if (isalpha((unsigned char)*p) || *p == '_') {
			const char *s = p;

			while (isalnum((unsigned char)*p) || *p == '_' ||
			    (*p == ':' && p[1] == ':'))
				p += *p == ':' ? 2 : 1;
			/* .input is a key, $input a variable */
			if (prev != '.' && prev != '$')
				for (int i = 0; banned[i]; i++)
					if (strlen(banned[i]) == (size_t)(p - s) &&
					    strncmp(banned[i], s, (size_t)(p - s)) == 0)
						return banned[i];
			prev = 'a';
			continue;
		}
		if (!isspace((unsigned char)*p))
			prev = *p;
		p++;
	}
	return NULL;
}

/* jq -n 'empty | PROG': compiled, never run; jq's message on stderr. */
int
jq_check(const char *prog, char *err, size_t errlen)
{
	static const char pre[] = "empty | ";
	struct vp_buf msg = { 0 };
	const char *w;
	char *text, *argv[4], buf[1024];
	int fds[2], st;
	pid_t pid;
	ssize_t n;

	if ((w = banned_word(prog)) != NULL) {
		snprintf(err, errlen, "%s is not allowed here: the program "
		    "runs once per event, on that event alone", w);
		return -1;
	}
	text = vp_xmalloc(sizeof(pre) + strlen(prog));
	memcpy(text, pre, sizeof(pre) - 1);
	strcpy(text + sizeof(pre) - 1, prog);
	if (pipe(fds) != 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		free(text);
		return -1;
	}
	argv[0] = "jq";
	argv[1] = "-n";
	argv[2] = text;
	argv[3] = NULL;
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		free(text);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		close(fds[1]);
		if (freopen("/dev/null", "w", stdout) == NULL)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		vp_buf_append(&msg, buf, (size_t)n);
	}
	close(fds[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	free(text);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		vp_buf_free(&msg);
		return 0;
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		snprintf(err, errlen, "jq is not installed (filter and "
		    "transform run in jq)");
	else {
		/* jq's lines as one, without the "empty | " it was given */
		char *s, *d;

		vp_buf_append(&msg, "", 1);
		for (s = d = msg.data; s && *s; ) {
			int bol = s == msg.data || s[-1] == '\n';

			if (bol && strncmp(s, pre, sizeof(pre) - 1) == 0)
				s += sizeof(pre) - 1;
			else if (bol && strncmp(s, "jq: ", 4) == 0)
				s += 4;
			/* one space for each run of blanks and line breaks */
			if (isspace((unsigned char)*s)) {
				if (d > msg.data && d[-1] != ' ')
					*d++ = ' ';
			} else
				*d++ = *s;
			s++;
		}
		if (d)
			*d = '\0';
		while (d && d > msg.data && d[-1] == ' ')
			*--d = '\0';
		snprintf(err, errlen, "%s", msg.data && *msg.data ? msg.data :
		    "jq refused the program");
	}
	vp_buf_free(&msg);
	return -1;
}
