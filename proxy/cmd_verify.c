/* proxy/cmd_verify.c — placeholder until the owning issue lands (scaffolding). */
#include <stdio.h>

#include "cmd_int.h"

int
pg_cmd_verify(int argc, char **argv)
{
    (void) argc;
    fprintf(stderr, "provgate: %s: not built yet\n", argv[0]);
    return 2;
}

int
pg_cmd_verify_bundle(int argc, char **argv)
{
    (void) argc;
    fprintf(stderr, "provgate: %s: not built yet\n", argv[0]);
    return 2;
}
