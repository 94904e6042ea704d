/* proxy/cmd_pins.c — placeholder until the owning issue lands (scaffolding). */
#include <stdio.h>

#include "cmd_int.h"

int
pg_cmd_pins(int argc, char **argv)
{
    (void) argc;
    fprintf(stderr, "provgate: %s: not built yet\n", argv[0]);
    return 2;
}

