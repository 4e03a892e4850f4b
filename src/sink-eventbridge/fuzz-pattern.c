/*
 * fuzz-pattern: fuzz target for pattern compilation and matching.
 *
 * Built with clang -fsanitize=fuzzer it is a libFuzzer target; built with
 * -DEB_FUZZ_MAIN it replays the files and directories named on the command
 * line, so the corpus is exercised by every build.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pattern.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char event_text[] =
    "{\"version\":\"0\",\"source\":\"https://vc.example.com/sdk\","
    "\"detail-type\":\"VmPoweredOnEvent\",\"time\":\"2026-11-23T09:00:00Z\","
    "\"region\":\"us-east-1\",\"resources\":[],\"detail\":{\"specversion\":"
    "\"1.0\",\"id\":\"42\",\"type\":\"com.vmware.event.router/event\","
    "\"subject\":\"VmPoweredOnEvent\",\"eventkey\":42,\"data\":{\"Key\":42,"
    "\"Vm\":{\"Name\":\"web-01\",\"Vm\":{\"Type\":\"VirtualMachine\","
    "\"Value\":\"vm-42\"}},\"Ip\":\"10.0.0.7\",\"Tags\":[\"a\",\"b\",1,null],"
    "\"Nested\":[{\"x\":1},{\"x\":\"y\"}],\"Cpu\":2.5,\"On\":true}}}";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *event;
	char err[256];
	struct eb_pattern *p;

	if (event == NULL)
		event = json_loads(event_text, 0, NULL);
	p = eb_pattern_compile((const char *)data, size, err, sizeof(err));
	if (p != NULL) {
		(void)eb_pattern_match(p, event);
		eb_pattern_free(p);
	}
	return 0;
}

#ifdef EB_FUZZ_MAIN
static int
run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *buf;
	long n;

	if (fp == NULL || fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0) {
		perror(path);
		if (fp)
			fclose(fp);
		return -1;
	}
	rewind(fp);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		perror(path);
		free(buf);
		fclose(fp);
		return -1;
	}
	fclose(fp);
	LLVMFuzzerTestOneInput((const uint8_t *)buf, (size_t)n);
	free(buf);
	return 0;
}

int
main(int argc, char **argv)
{
	int count = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 66;
		}
		if (S_ISDIR(st.st_mode)) {
			DIR *d = opendir(argv[i]);
			struct dirent *de;
			char path[4096];

			while (d && (de = readdir(d)) != NULL) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "%s/%s", argv[i],
				    de->d_name);
				rc |= run_file(path);
				count++;
			}
			if (d)
				closedir(d);
		} else {
			rc |= run_file(argv[i]);
			count++;
		}
	}
	printf("%d inputs replayed\n", count);
	return rc ? 1 : 0;
}
#endif
