/* policy/sigstore/errors.c — names of the verifier's error classes. */
#include "pg_sigstore.h"

const char *
pg_sig_strerror(enum pg_sig_code code)
{
    switch (code) {
    case PG_SIG_OK: return "ok";
    case PG_SIG_ENOMEM: return "out of memory";
    case PG_SIG_ELIMIT: return "over a limit";
    case PG_SIG_EPARSE: return "malformed input";
    case PG_SIG_EROOT: return "trusted root";
    case PG_SIG_ECHAIN: return "certificate chain";
    case PG_SIG_ESCT: return "signed certificate timestamp";
    case PG_SIG_ETLOG: return "transparency log";
    case PG_SIG_ETSA: return "timestamp authority";
    case PG_SIG_ETIME: return "validity window";
    case PG_SIG_ESIG: return "signature";
    case PG_SIG_EBINDING: return "log entry binding";
    case PG_SIG_EIDENTITY: return "identity";
    case PG_SIG_ESTATEMENT: return "statement";
    }
    return "unknown";
}
