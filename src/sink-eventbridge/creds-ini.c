/*
 * creds-ini.c: the shared config and credentials files, read the way
 * botocore reads them (Python's configparser): "key = value" or
 * "key: value", keys case-insensitive, whole-line comments starting with '#'
 * or ';', indented lines continuing the value above (nested settings such as
 * "s3 =" blocks).  A line that is none of these is an error with its number.
 * Values may be secrets: they are wiped when freed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "creds-int.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

void
eb_ini_free(struct eb_ini *ini)
{
	for (size_t i = 0; i < ini->n; i++) {
		struct eb_ini_sec *s = &ini->sec[i];

		for (size_t j = 0; j < s->n; j++) {
			free(s->kv[j].key);
			vp_free_secret(s->kv[j].val);
		}
		free(s->kv);
		free(s->name);
	}
	free(ini->sec);
	free(ini->path);
	memset(ini, 0, sizeof(*ini));
}

static struct eb_ini_sec *
section(struct eb_ini *ini, const char *name)
{
	struct eb_ini_sec *s;

	/* a repeated section continues the first one */
	for (size_t i = 0; i < ini->n; i++)
		if (strcmp(ini->sec[i].name, name) == 0)
			return &ini->sec[i];
	ini->sec = vp_xrealloc(ini->sec, (ini->n + 1) * sizeof(*ini->sec));
	s = &ini->sec[ini->n++];
	memset(s, 0, sizeof(*s));
	s->name = vp_xstrdup(name);
	return s;
}

static struct eb_ini_kv *
set(struct eb_ini_sec *s, const char *key, const char *val)
{
	struct eb_ini_kv *kv = NULL;

	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			kv = &s->kv[i];
	if (kv == NULL) {
		s->kv = vp_xrealloc(s->kv, (s->n + 1) * sizeof(*s->kv));
		kv = &s->kv[s->n++];
		kv->key = vp_xstrdup(key);
	} else
		vp_free_secret(kv->val);
	kv->val = vp_xstrdup(val);
	return kv;
}

/* Append a continuation line to a value (without realloc's stray copies). */
static void
extend(struct eb_ini_kv *kv, const char *more)
{
	size_t a = strlen(kv->val), b = strlen(more);
	char *v = vp_xmalloc(a + b + 2);

	memcpy(v, kv->val, a);
	v[a] = '\n';
	memcpy(v + a + 1, more, b + 1);
	vp_free_secret(kv->val);
	kv->val = v;
}

static int
parse(struct eb_ini *ini, char *text, char *err, size_t errlen)
{
	struct eb_ini_sec *cur = NULL;
	struct eb_ini_kv *last = NULL;
	size_t last_indent = 0;
	unsigned long lineno = 0;
	char *line = text, *next;

	for (; line; line = next) {
		char *l, *d;
		size_t indent;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		indent = strspn(line, " \t");
		l = trim(line);
		if (*l == '\0' || *l == '#' || *l == ';')
			continue;
		if (last && indent > last_indent) {
			extend(last, l);
			continue;
		}
		last = NULL;
		if (*l == '[') {
			char *end = strrchr(l, ']');

			if (end == NULL || end == l + 1) {
				snprintf(err, errlen, "%s:%lu: bad section header",
				    ini->path, lineno);
				return -1;
			}
			*end = '\0';
			cur = section(ini, trim(l + 1));
			continue;
		}
		if (cur == NULL) {
			snprintf(err, errlen, "%s:%lu: a setting before the "
			    "first [section]", ini->path, lineno);
			return -1;
		}
		d = l + strcspn(l, "=:");
		if (*d == '\0' || d == l) {
			snprintf(err, errlen, "%s:%lu: not \"key = value\"",
			    ini->path, lineno);
			return -1;
		}
		*d = '\0';
		for (char *k = l; *k; k++)
			*k = (char)tolower((unsigned char)*k);
		last = set(cur, trim(l), trim(d + 1));
		last_indent = indent;
	}
	return 0;
}

int
eb_ini_load(struct eb_ini *ini, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	int rc;

	memset(ini, 0, sizeof(*ini));
	ini->path = vp_xstrdup(path);
	if (stat(path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if ((text = vp_read_file(path, 1 << 20, NULL)) == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	ini->found = 1;
	ini->mtime = st.st_mtim;
	rc = parse(ini, text, err, errlen);
	vp_free_secret(text);
	return rc;
}

const struct eb_ini_sec *
eb_ini_profile(const struct eb_ini *ini, const char *profile, int config_style)
{
	for (size_t i = 0; i < ini->n; i++) {
		const char *n = ini->sec[i].name;

		if (config_style) {
			/* "[profile NAME]", the name maybe quoted; "[default]" */
			if (strcmp(profile, "default") == 0 &&
			    strcmp(n, "default") == 0)
				return &ini->sec[i];
			if (strncmp(n, "profile", 7) != 0 ||
			    !isspace((unsigned char)n[7]))
				continue;
			n += 8;
			while (isspace((unsigned char)*n))
				n++;
			if (*n == '"' || *n == '\'') {
				size_t l = strlen(n);

				if (l >= 2 && n[l - 1] == *n &&
				    l - 2 == strlen(profile) &&
				    strncmp(n + 1, profile, l - 2) == 0)
					return &ini->sec[i];
				continue;
			}
		}
		if (strcmp(n, profile) == 0)
			return &ini->sec[i];
	}
	return NULL;
}

const char *
eb_ini_get(const struct eb_ini_sec *s, const char *key)
{
	if (s == NULL)
		return NULL;
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->kv[i].key, key) == 0)
			return s->kv[i].val;
	return NULL;
}
