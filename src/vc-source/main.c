/* vc-source: placeholder main until the SOAP reader lands in this session. */
#include "vp.h"
int
main(int argc, char **argv)
{
	vp_log_init(argv[0]);
	(void)argc;
	vp_die(VP_EXIT_SOFTWARE, "not built yet");
}
