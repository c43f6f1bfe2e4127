/*
 * error_kind.h
 *     The one table of pg_ark's error kinds, shared by the extension and the helper.
 *
 * Each kind has a stable wire code (sent in reply frames), the exit status the CLI uses for it
 * and the SQLSTATE the extension raises. Codes are written on the wire and must never change
 * meaning once released; add new kinds at the end.
 *
 * This header is plain C++ without PostgreSQL or standard-library dependencies so that it can be
 * included on both sides of the C++/PostgreSQL wall.
 */
#ifndef PG_ARK_COMMON_ERROR_KIND_H
#define PG_ARK_COMMON_ERROR_KIND_H

#include <stdint.h>

/* X(name, wire code, CLI exit status, SQLSTATE) */
#define PG_ARK_ERROR_KINDS(X)                                                                      \
    X(ok, 0, 0, "00000")                                                                           \
    X(invalid_argument, 1, 2, "22023")   /* bad input: config, CLI, SQL arguments, messages */    \
    X(not_found, 2, 1, "58P01")          /* the named file or object does not exist */            \
    X(conflict, 3, 3, "55000")           /* exists with different content; refused */             \
    X(system_mismatch, 4, 4, "55000")    /* system identifier differs from the registered one */  \
    X(not_initialized, 5, 5, "55000")    /* cluster not registered in the repository */           \
    X(io_error, 6, 6, "58030")           /* read/write/fsync failed */                             \
    X(no_space, 7, 6, "53100")           /* repository filesystem full */                          \
    X(permission_denied, 8, 6, "42501")  /* filesystem or peer-credential refusal */              \
    X(corrupt, 9, 7, "XX001")            /* checksum or format mismatch in stored data */          \
    X(protocol, 10, 8, "08P01")          /* malformed or unexpected frame */                       \
    X(unavailable, 11, 9, "08006")       /* helper not reachable or timed out */                   \
    X(internal, 12, 10, "XX000")         /* a bug: should never happen */

namespace pg_ark {

enum class ErrorKind : uint32_t {
#define PG_ARK_ENUM_ENTRY(name, code, exit_status, sqlstate) name = code,
    PG_ARK_ERROR_KINDS(PG_ARK_ENUM_ENTRY)
#undef PG_ARK_ENUM_ENTRY
};

/* Name of a kind ("no_space"); "unknown" for codes this build does not know. */
inline const char *ErrorKindName(ErrorKind kind) {
    switch (kind) {
#define PG_ARK_NAME_ENTRY(name, code, exit_status, sqlstate)                                       \
    case ErrorKind::name:                                                                          \
        return #name;
        PG_ARK_ERROR_KINDS(PG_ARK_NAME_ENTRY)
#undef PG_ARK_NAME_ENTRY
    }
    return "unknown";
}

inline int ErrorKindExitStatus(ErrorKind kind) {
    switch (kind) {
#define PG_ARK_EXIT_ENTRY(name, code, exit_status, sqlstate)                                       \
    case ErrorKind::name:                                                                          \
        return exit_status;
        PG_ARK_ERROR_KINDS(PG_ARK_EXIT_ENTRY)
#undef PG_ARK_EXIT_ENTRY
    }
    return 10;
}

inline const char *ErrorKindSqlState(ErrorKind kind) {
    switch (kind) {
#define PG_ARK_SQLSTATE_ENTRY(name, code, exit_status, sqlstate)                                   \
    case ErrorKind::name:                                                                          \
        return sqlstate;
        PG_ARK_ERROR_KINDS(PG_ARK_SQLSTATE_ENTRY)
#undef PG_ARK_SQLSTATE_ENTRY
    }
    return "XX000";
}

/* True when the wire code names a kind this build knows. */
inline bool ErrorKindIsKnown(uint32_t code) {
    switch (code) {
#define PG_ARK_KNOWN_ENTRY(name, code, exit_status, sqlstate) case code:
        PG_ARK_ERROR_KINDS(PG_ARK_KNOWN_ENTRY)
#undef PG_ARK_KNOWN_ENTRY
        return true;
    }
    return false;
}

}  // namespace pg_ark

#endif
