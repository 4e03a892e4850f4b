/*
 * schema.h: the shape of the configuration files vcpipe reads.
 *
 * A schema is a tree of fields.  Maps list their keys; a map with a "type"
 * discriminator names, for each type value, the one section that must be
 * present.  Anything not listed is an unknown key.
 */
#ifndef VCPIPE_SCHEMA_H
#define VCPIPE_SCHEMA_H

enum fkind {
	F_STR,		/* any scalar, kept as its source text */
	F_BOOL,		/* true/false (yes/no/on/off as YAML 1.1 reads them) */
	F_INT,		/* a plain decimal integer */
	F_ENUM,		/* a string from a fixed list */
	F_MAP,		/* a mapping with the keys in sub */
	F_STRMAP,	/* a mapping of strings to strings (labels, set) */
	F_LIST,		/* a sequence of sub[0] */
	F_URI		/* a string, or a mapping {scheme, host, path} */
};

#define F_REQUIRED	0x01
#define F_SECRET	0x02	/* never echoed in messages */
#define F_ENVNAME	0x04	/* must be an environment variable name */
#define F_DURATION	0x08	/* must parse as a duration (90s, 1h) */
#define F_HTTPURL	0x10	/* must start with http:// or https:// */
#define F_HOSTPORT	0x20	/* a listen address (vp_listen_parse): bindAddress */
#define F_NAME		0x40	/* [A-Za-z0-9_.-]+: used in file names */
#define F_VCURL		0x80	/* a vCenter address as govmomi's soap.ParseURL
				 * takes it: https://VC/sdk, https://VC, VC */
#define F_AMQPURL	0x100	/* amqp:// or amqps://, no user information */
#define F_PEMCA		0x200	/* a readable file of PEM certificates */
#define F_JQ		0x400	/* a jq program jq compiles (jq.h) */

struct variant {
	const char *value;	/* the type value */
	const char *section;	/* the key it requires, or NULL for none */
};

struct field {
	const char *key;
	enum fkind kind;
	unsigned flags;
	const struct field *sub;	/* F_MAP: keys; F_LIST: element */
	const char *const *choices;	/* F_ENUM */
	const struct variant *variants;	/* F_MAP with a "type" key */
	int check;			/* extra rule, see CHECK_* */
	long long min, max;		/* F_INT: bounds, when max > 0 */
};

enum {
	CHECK_NONE,
	CHECK_SECRET_ONE,	/* exactly one of password, passwordFile, passwordEnv */
	CHECK_AWS_ONE,		/* one source for each AWS key */
	CHECK_DEST,		/* knative destination: one of uri, ref */
	CHECK_REF,		/* knative ref: apiVersion or group */
	CHECK_VCAUTH,		/* vcenter: auth or credentialsFile */
	CHECK_UNIQUE_NAMES	/* a list whose elements' names are unique */
};

extern const struct field schema_router[];	/* RouterConfig top level */
extern const struct field schema_native[];	/* vcpipe/v1 Config top level */
/* encode.typeStyle, encode.id, encode.payloadEncoding; the vcpipe/ labels */
extern const char *const schema_type_styles[], *const schema_ids[],
    *const schema_payloads[];
#endif
