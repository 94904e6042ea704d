/* cache/errors.c — names of the cache module's error codes. */
#include "pg_cache.h"

const char *
pg_cache_strerror(enum pg_cache_code code)
{
    switch (code) {
    case PG_CACHE_OK: return "ok";
    case PG_CACHE_NOTFOUND: return "not found";
    case PG_CACHE_ENOMEM: return "out of memory";
    case PG_CACHE_EIO: return "i/o error";
    case PG_CACHE_EFULL: return "cache full";
    case PG_CACHE_EHASH: return "hash mismatch";
    case PG_CACHE_EINVAL: return "invalid argument";
    case PG_CACHE_EDAMAGED: return "damaged";
    }
    return "unknown";
}
