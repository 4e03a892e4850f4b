/*
 * schema.c: the VMware event router's RouterConfig (v1alpha1), key for key
 * as its Go types and documented examples spell it, plus the few keys vcpipe
 * adds, and vcpipe's own Config built from the same parts.
 *
 * Each key is declared once, in config.tab, with the stage option it
 * becomes; the build writes the tables of keys from it
 * (rows/vcpipe-yaml-schema.h, by src/lib/table-h.awk).  Here: the values
 * they name.
 */
#include <stddef.h>

#include "schema.h"
#include "sinkcore.h"

#define END { .key = NULL }	/* the end of a table of fields */

/* ---- the "type" of each mapping that has one, and what it requires ---- */

static const char *const t_basic[] = { "basic_auth", NULL };
static const struct variant v_basic[] = {
	{ "basic_auth", "basicAuth" }, { NULL, NULL }
};
static const char *const t_aws[] = { "aws_access_key", "aws_iam_role", NULL };
static const struct variant v_aws[] = {
	{ "aws_access_key", "awsAccessKeyAuth" }, { "aws_iam_role", NULL },
	{ NULL, NULL }
};
static const char *const t_ad[] = { "active_directory", NULL };
static const struct variant v_ad[] = {
	{ "active_directory", "activeDirectoryAuth" }, { NULL, NULL }
};

/*
 * RouterConfig's provider and processor types, each with its section; a
 * vcpipe/v1 provider or processor takes the same ones and more.
 */
#define PROVIDER_TYPES "vcenter", "vcsim", "webhook", "horizon"
#define PROVIDER_VARIANTS \
	{ "vcenter", "vcenter" }, { "vcsim", "vcsim" }, \
	{ "webhook", "webhook" }, { "horizon", "horizon" }
static const char *const t_provider[] = { PROVIDER_TYPES, NULL };
static const struct variant v_provider[] = {
	PROVIDER_VARIANTS, { NULL, NULL }
};
static const char *const t_nprovider[] = { PROVIDER_TYPES, "amqp", NULL };
static const struct variant v_nprovider[] = {
	PROVIDER_VARIANTS, { "amqp", "amqp" }, { NULL, NULL }
};
#define PROCESSOR_TYPES "knative", "openfaas", "aws_event_bridge"
#define PROCESSOR_VARIANTS \
	{ "knative", "knative" }, { "openfaas", "openfaas" }, \
	{ "aws_event_bridge", "awsEventBridge" }
static const char *const t_processor[] = { PROCESSOR_TYPES, NULL };
static const struct variant v_processor[] = {
	PROCESSOR_VARIANTS, { NULL, NULL }
};
static const char *const t_nprocessor[] = {
	PROCESSOR_TYPES, "amqp", "stdout", NULL
};
static const struct variant v_nprocessor[] = {
	PROCESSOR_VARIANTS, { "amqp", "amqp" }, { "stdout", NULL },
	{ NULL, NULL }
};
static const char *const t_metrics[] = { "default", NULL };
static const struct variant v_metrics[] = {
	{ "default", "default" }, { NULL, NULL }
};

/* ---- the other enumerations ------------------------------------------- */

/* a RabbitMQ queue or stream (amqp-source) and its exchange */
static const char *const t_declare[] = { "classic", "quorum", "stream", NULL };
static const char *const t_extype[] = {
	"direct", "topic", "fanout", "headers", NULL
};
static const char *const t_scheme[] = { "http", "https", NULL };
static const char *const t_encoding[] = { "binary", "structured", NULL };
static const char *const t_headers[] = { "knative", "cloudevents", NULL };
static const char *const t_mode[] = { "structured", "binary", NULL };
const char *const schema_type_styles[] = { "router", "vsphere", NULL };
const char *const schema_ids[] = { "stable", "uuid", "key", NULL };
const char *const schema_payloads[] = {
	"application/json", "application/xml", "vcenter-connector", NULL
};
static const char *const t_router_api[] = {
	"event-router.vmware.com/v1alpha1", NULL
};
static const char *const t_router_kind[] = { "RouterConfig", NULL };
static const char *const t_native_api[] = { "vcpipe/v1", NULL };
static const char *const t_native_kind[] = { "Config", NULL };

/* the stdout processor has no settings */
static const struct field f_stdout[] = { END };

/* ---- the keys ------------------------------------------------------------ */

#include "rows/vcpipe-yaml-schema.h"
