/* policy/publisher.c — placeholder (scaffolding) until issue 3 lands. */
#include "pg_policy.h"
