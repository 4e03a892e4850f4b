/*
 * schema.c: the VMware event router's RouterConfig (v1alpha1), key for key
 * as its Go types and documented examples spell it, plus the few keys vcpipe
 * adds (marked "vcpipe:"), and vcpipe's own Config built from the same parts.
 */
#include <stddef.h>

#include "schema.h"
#include "sinkcore.h"

#define END { .key = NULL }
#define S(k, fl) { .key = k, .kind = F_STR, .flags = fl }
#define B(k) { .key = k, .kind = F_BOOL }
#define E(k, fl, ch) { .key = k, .kind = F_ENUM, .flags = fl, .choices = ch }
#define M(k, fl, fields, var, chk) \
	{ .key = k, .kind = F_MAP, .flags = fl, .sub = fields, \
	  .variants = var, .check = chk }
/* a sequence of el[0] */
#define L(k, fl, el, chk) \
	{ .key = k, .kind = F_LIST, .flags = fl, .sub = el, .check = chk }
/* a mapping of strings to strings */
#define SMAP(k) { .key = k, .kind = F_STRMAP }
/* an integer that the stage's option takes from min to max */
#define I(k, lo, hi) { .key = k, .kind = F_INT, .min = lo, .max = hi }

/* ---- auth ------------------------------------------------------------ */

/*
 * A secret as the router has it (KEY), or, vcpipe's, from a file (KEYFile)
 * or a variable (KEYEnv): exactly one of them (CHECK_SECRET_ONE,
 * CHECK_AWS_ONE).
 */
#define SECRET(k) S(k, F_SECRET), S(k "File", 0), S(k "Env", F_ENVNAME)
/* An auth mapping of one type: {type: TYPE, SECTION: {FIELDS}}. */
#define AUTH_ONE(name, type, section, fields)				\
	static const char *const t_##name[] = { type, NULL };		\
	static const struct variant v_##name[] = {			\
		{ type, section }, { NULL, NULL }			\
	};								\
	static const struct field f_auth_##name[] = {			\
		E("type", F_REQUIRED, t_##name),			\
		M(section, 0, fields, NULL, CHECK_SECRET_ONE), END	\
	}

static const struct field f_basic[] = {
	S("username", F_REQUIRED), SECRET("password"), END
};
AUTH_ONE(basic, "basic_auth", "basicAuth", f_basic);

static const struct field f_awskey[] = {
	S("accessKey", F_REQUIRED), SECRET("secretKey"), END
};
static const char *const t_aws[] = { "aws_access_key", "aws_iam_role", NULL };
static const struct variant v_aws[] = {
	{ "aws_access_key", "awsAccessKeyAuth" }, { "aws_iam_role", NULL },
	{ NULL, NULL }
};
static const struct field f_auth_aws[] = {
	E("type", F_REQUIRED, t_aws),
	M("awsAccessKeyAuth", 0, f_awskey, NULL, CHECK_AWS_ONE),
	END
};

static const struct field f_ad[] = {
	S("domain", F_REQUIRED), S("username", F_REQUIRED), SECRET("password"),
	END
};
AUTH_ONE(ad, "active_directory", "activeDirectoryAuth", f_ad);

/* ---- providers ------------------------------------------------------- */

static const struct field f_vcenter[] = {
	S("address", F_REQUIRED | F_VCURL),
	B("insecureSSL"),
	B("checkpoint"),
	S("checkpointDir", 0),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	S("credentialsFile", 0),	/* vcpipe: file or Secret directory */
	S("caFile", 0),			/* vcpipe */
	S("begin", F_DURATION),		/* vcpipe: how far back a first start reads */
	S("maxReplay", F_DURATION),	/* vcpipe: resume at most this far back */
	END
};
static const struct field f_webhook[] = {
	S("bindAddress", F_REQUIRED | F_HOSTPORT),
	S("path", F_REQUIRED),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	END
};
static const struct field f_horizon[] = {
	S("address", F_REQUIRED | F_HTTPURL),
	B("insecureSSL"),
	M("auth", F_REQUIRED, f_auth_ad, v_ad, CHECK_NONE),
	END
};
/*
 * RouterConfig's provider types: each its section of the same name.  A
 * vcpipe/v1 provider takes the same ones and more (f_nprovider).
 */
#define PROVIDER_TYPES "vcenter", "vcsim", "webhook", "horizon"
#define PROVIDER_VARIANTS \
	{ "vcenter", "vcenter" }, { "vcsim", "vcsim" }, \
	{ "webhook", "webhook" }, { "horizon", "horizon" }
#define PROVIDER_SECTIONS \
	M("vcenter", 0, f_vcenter, NULL, CHECK_VCAUTH), \
	M("vcsim", 0, f_vcenter, NULL, CHECK_VCAUTH), \
	M("webhook", 0, f_webhook, NULL, CHECK_NONE), \
	M("horizon", 0, f_horizon, NULL, CHECK_NONE)
static const char *const t_provider[] = { PROVIDER_TYPES, NULL };
static const struct variant v_provider[] = {
	PROVIDER_VARIANTS, { NULL, NULL }
};
/* vcpipe: a RabbitMQ queue or stream (amqp-source), vcpipe/v1 only */
static const char *const t_declare[] = { "classic", "quorum", "stream", NULL };
static const char *const t_extype[] = {
	"direct", "topic", "fanout", "headers", NULL
};
static const struct field f_string_el[] = { S(NULL, 0), END };
static const struct field f_amqp_source[] = {
	S("url", F_REQUIRED | F_AMQPURL),
	S("queue", F_REQUIRED),
	E("declare", 0, t_declare),
	L("bind", 0, f_string_el, CHECK_NONE),
	E("exchangeType", 0, t_extype),
	I("prefetch", 1, 65535),
	S("offset", 0),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	S("credentialsFile", 0),
	B("insecureSSL"),
	S("caFile", 0),
	END
};
static const char *const t_nprovider[] = { PROVIDER_TYPES, "amqp", NULL };
static const struct variant v_nprovider[] = {
	PROVIDER_VARIANTS, { "amqp", "amqp" }, { NULL, NULL }
};
static const struct field f_provider[] = {
	E("type", F_REQUIRED, t_provider),
	S("name", F_REQUIRED),
	PROVIDER_SECTIONS,
	END
};

/* ---- processors ------------------------------------------------------ */

static const char *const t_scheme[] = { "http", "https", NULL };
static const struct field f_uri[] = {	/* net/url.URL as yaml.v2 spells it */
	E("scheme", F_REQUIRED, t_scheme),
	S("host", F_REQUIRED),
	S("path", 0),
	END
};
static const struct field f_ref[] = {	/* knative.dev/pkg's KReference */
	S("apiVersion", 0),
	S("group", 0),
	S("kind", F_REQUIRED),
	S("name", F_REQUIRED),
	S("namespace", F_REQUIRED),
	END
};
static const struct field f_dest[] = {
	{ .key = "uri", .kind = F_URI, .sub = f_uri },
	M("ref", 0, f_ref, NULL, CHECK_REF),
	END
};
static const char *const t_encoding[] = { "binary", "structured", NULL };
static const struct field f_knative[] = {
	M("destination", F_REQUIRED, f_dest, NULL, CHECK_DEST),
	B("insecureSSL"),
	E("encoding", 0, t_encoding),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	S("caFile", 0),			/* vcpipe */
	S("maxRetryTime", F_DURATION),	/* vcpipe: then dead-letter */
	I("inflight", 1, VP_SINK_INFLIGHT_MAX),	/* vcpipe: sink-http */
	END
};
static const struct field f_openfaas[] = {
	S("address", F_REQUIRED | F_HTTPURL),
	B("async"),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	S("maxRetryTime", F_DURATION),	/* vcpipe */
	END
};
static const struct field f_eventbridge[] = {
	S("region", F_REQUIRED),
	S("eventBus", F_REQUIRED),
	S("ruleARN", F_REQUIRED),
	M("auth", F_REQUIRED, f_auth_aws, v_aws, CHECK_NONE),
	S("endpointUrl", F_HTTPURL),	/* vcpipe: another endpoint (tests) */
	S("maxRetryTime", F_DURATION),	/* vcpipe */
	I("inflight", 1, VP_SINK_INFLIGHT_MAX),	/* vcpipe: PutEvents */
	END
};
static const struct field f_stdout[] = { END };
static const char *const t_headers[] = { "knative", "cloudevents", NULL };
static const struct field f_amqp_sink[] = {	/* vcpipe: sink-amqp */
	S("url", F_REQUIRED | F_AMQPURL),
	S("exchange", 0),
	E("exchangeType", 0, t_extype),
	S("routingKey", 0),
	E("encoding", 0, t_encoding),
	E("headers", 0, t_headers),
	B("dropUnroutable"),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	S("credentialsFile", 0),
	B("insecureSSL"),
	S("caFile", 0),
	S("maxRetryTime", F_DURATION),
	END
};

/* RouterConfig's processor types; vcpipe/v1 adds more (f_nprocessor). */
#define PROCESSOR_TYPES "knative", "openfaas", "aws_event_bridge"
#define PROCESSOR_VARIANTS \
	{ "knative", "knative" }, { "openfaas", "openfaas" }, \
	{ "aws_event_bridge", "awsEventBridge" }
#define PROCESSOR_SECTIONS \
	M("knative", 0, f_knative, NULL, CHECK_NONE), \
	M("openfaas", 0, f_openfaas, NULL, CHECK_NONE), \
	M("awsEventBridge", 0, f_eventbridge, NULL, CHECK_NONE)
static const char *const t_processor[] = { PROCESSOR_TYPES, NULL };
static const struct variant v_processor[] = {
	PROCESSOR_VARIANTS, { NULL, NULL }
};
static const struct field f_processor[] = {
	E("type", F_REQUIRED, t_processor),
	S("name", F_REQUIRED),
	PROCESSOR_SECTIONS,
	END
};

/* ---- metrics ----------------------------------------------------------- */

static const struct field f_metrics_default[] = {
	S("bindAddress", F_REQUIRED | F_HOSTPORT),
	M("auth", 0, f_auth_basic, v_basic, CHECK_NONE),
	END
};
static const char *const t_metrics[] = { "default", NULL };
static const struct variant v_metrics[] = {
	{ "default", "default" }, { NULL, NULL }
};
static const struct field f_metrics[] = {
	E("type", F_REQUIRED, t_metrics),
	S("name", F_REQUIRED),
	M("default", 0, f_metrics_default, NULL, CHECK_NONE),
	END
};

/* ---- certificates --------------------------------------------------------- */

static const struct field f_file_el[] = { S(NULL, F_PEMCA), END };
static const struct field f_certificates[] = {
	/* PEM files of the CAs to trust, instead of the system's */
	L("rootCAs", 0, f_file_el, CHECK_NONE),
	END
};

/* ---- RouterConfig ------------------------------------------------------- */

static const struct field f_metadata[] = {
	S("name", F_REQUIRED),
	SMAP("labels"),
	END
};
static const char *const t_router_api[] = {
	"event-router.vmware.com/v1alpha1", NULL
};
static const char *const t_router_kind[] = { "RouterConfig", NULL };

const struct field schema_router[] = {
	E("apiVersion", F_REQUIRED, t_router_api),
	E("kind", F_REQUIRED, t_router_kind),
	M("metadata", F_REQUIRED, f_metadata, NULL, CHECK_NONE),
	M("eventProvider", F_REQUIRED, f_provider, v_provider, CHECK_NONE),
	M("eventProcessor", F_REQUIRED, f_processor, v_processor, CHECK_NONE),
	M("metricsProvider", 0, f_metrics, v_metrics, CHECK_NONE),
	M("certificates", 0, f_certificates, NULL, CHECK_NONE),
	END
};

/* ---- vcpipe/v1 Config: several providers, several processors each ------ */

static const char *const t_mode[] = { "structured", "binary", NULL };
const char *const schema_type_styles[] = { "router", "vsphere", NULL };
const char *const schema_ids[] = { "stable", "uuid", "key", NULL };
const char *const schema_payloads[] = {
	"application/json", "application/xml", "vcenter-connector", NULL
};
static const struct field f_encode[] = {	/* ce-encode's options */
	E("mode", 0, t_mode),
	E("typeStyle", 0, schema_type_styles),
	E("id", 0, schema_ids),
	E("payloadEncoding", 0, schema_payloads),
	S("source", 0),
	SMAP("set"),
	END
};
static const char *const t_nprocessor[] = {
	PROCESSOR_TYPES, "amqp", "stdout", NULL
};
static const struct variant v_nprocessor[] = {
	PROCESSOR_VARIANTS, { "amqp", "amqp" }, { "stdout", NULL },
	{ NULL, NULL }
};
static const struct field f_nprocessor[] = {
	E("type", F_REQUIRED, t_nprocessor),
	S("name", F_REQUIRED | F_NAME),
	PROCESSOR_SECTIONS,
	M("amqp", 0, f_amqp_sink, NULL, CHECK_NONE),
	M("stdout", 0, f_stdout, NULL, CHECK_NONE),
	S("deadLetterFile", 0),
	S("filter", F_JQ),		/* jq: which events go to this processor */
	S("transform", F_JQ),		/* jq: the data it receives */
	END
};
static const struct field f_nprocessor_el[] = {
	M(NULL, 0, f_nprocessor, v_nprocessor, CHECK_NONE), END
};
static const struct field f_nprovider[] = {
	E("type", F_REQUIRED, t_nprovider),
	S("name", F_REQUIRED | F_NAME),
	PROVIDER_SECTIONS,
	M("amqp", 0, f_amqp_source, NULL, CHECK_NONE),
	M("encode", 0, f_encode, NULL, CHECK_NONE),
	L("processors", F_REQUIRED, f_nprocessor_el, CHECK_UNIQUE_NAMES),
	END
};
static const struct field f_nprovider_el[] = {
	M(NULL, 0, f_nprovider, v_nprovider, CHECK_NONE), END
};
static const char *const t_native_api[] = { "vcpipe/v1", NULL };
static const char *const t_native_kind[] = { "Config", NULL };

const struct field schema_native[] = {
	E("apiVersion", F_REQUIRED, t_native_api),
	E("kind", F_REQUIRED, t_native_kind),
	M("metadata", 0, f_metadata, NULL, CHECK_NONE),
	S("stateDir", 0),
	L("providers", F_REQUIRED, f_nprovider_el, CHECK_UNIQUE_NAMES),
	M("metricsProvider", 0, f_metrics, v_metrics, CHECK_NONE),
	M("certificates", 0, f_certificates, NULL, CHECK_NONE),
	END
};
