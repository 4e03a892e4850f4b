/*
 * bound.c: what a YAML document may cost once its aliases are expanded.
 *
 * libyaml keeps an alias as one more reference to its anchor's node, so a
 * loaded document stays as small as its file; every walk over it (the
 * schema check, --raw, --positions) expands each reference again.  Nine
 * lines of "billion laughs" become gigabytes that way, and an alias inside
 * its own anchor (a: &x [*x]) never ends.  load() calls yaml_bound_check
 * once, before anything walks the document, so every reader is covered.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bound.h"
#include "vp.h"

struct walk {
	yaml_document_t *doc;
	unsigned char *state;		/* 0 new, 1 on the path, 2 done */
	uint64_t *size;			/* nodes once aliases are expanded */
	unsigned long aliases;
	const yaml_node_t *bad;
	char *err;
	size_t errlen;
};

static const yaml_node_t *
node(struct walk *w, int id)
{
	return yaml_document_get_node(w->doc, id);
}

/*
 * The expanded size of node id, depth levels below the root; 0 once a
 * bound is crossed (the reason in w->err, the node in w->bad).  Sizes are
 * kept per node, so the walk costs one visit per reference, and recursion
 * stops at YAML_MAX_DEPTH.
 */
static uint64_t
walk(struct walk *w, int id, int depth)
{
	const yaml_node_t *n = node(w, id);
	size_t i = (size_t)id - 1;
	uint64_t total = 1, sub;

	if (n == NULL)
		return 1;
	if (w->state[i] != 0) {
		if (++w->aliases > YAML_MAX_ALIASES) {
			snprintf(w->err, w->errlen, "more than %d aliases",
			    YAML_MAX_ALIASES);
			w->bad = n;
			return 0;
		}
		if (w->state[i] == 1) {
			snprintf(w->err, w->errlen, "an alias inside the "
			    "node it refers to (it would never end)");
			w->bad = n;
			return 0;
		}
		return w->size[i];
	}
	if (depth > YAML_MAX_DEPTH) {
		snprintf(w->err, w->errlen, "nested more than %d levels deep",
		    YAML_MAX_DEPTH);
		w->bad = n;
		return 0;
	}
	w->state[i] = 1;
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		    it < n->data.sequence.items.top; it++) {
			if ((sub = walk(w, *it, depth + 1)) == 0)
				return 0;
			total += sub;
			if (total > YAML_MAX_NODES)
				break;
		}
	} else if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
		    p < n->data.mapping.pairs.top; p++) {
			if ((sub = walk(w, p->key, depth + 1)) == 0)
				return 0;
			total += sub;
			if ((sub = walk(w, p->value, depth + 1)) == 0)
				return 0;
			total += sub;
			if (total > YAML_MAX_NODES)
				break;
		}
	}
	if (total > YAML_MAX_NODES) {
		snprintf(w->err, w->errlen, "aliases expand this to more than "
		    "%d nodes", YAML_MAX_NODES);
		w->bad = n;
		return 0;
	}
	w->state[i] = 2;
	w->size[i] = total;
	return total;
}

int
yaml_bound_check(yaml_document_t *doc, unsigned long *line,
    unsigned long *col, char *err, size_t errlen)
{
	size_t n = (size_t)(doc->nodes.top - doc->nodes.start);
	struct walk w = { .doc = doc, .err = err, .errlen = errlen };
	int rc = 0;

	if (n == 0)
		return 0;
	w.state = calloc(n, 1);
	w.size = calloc(n, sizeof(*w.size));
	if (w.state == NULL || w.size == NULL)
		vp_die(VP_EXIT_SOFTWARE, "out of memory");
	if (walk(&w, 1, 0) == 0) {
		*line = (unsigned long)w.bad->start_mark.line + 1;
		*col = (unsigned long)w.bad->start_mark.column + 1;
		rc = -1;
	}
	free(w.state);
	free(w.size);
	return rc;
}
