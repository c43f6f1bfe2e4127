/*
 * relation_file.h
 *     The names PostgreSQL gives relation data files inside a database directory, parsed by the
 *     same grammar the server uses (parse_filename_for_nontemp_relation, looks_like_temp_rel_name
 *     in src/backend/storage/file/reinit.c and fd.c):
 *
 *         <relfilenode>[_fsm|_vm|_init][.<segment>]           a permanent or unlogged relation
 *         t<backend>_<relfilenode>[_fsm|_vm|_init][.<segment>]  a temporary relation
 *
 * where <relfilenode> is 1 to 10 digits (OIDCHARS) and <segment> one or more digits.
 */
#ifndef PG_ARK_HELPER_RELATION_FILE_H
#define PG_ARK_HELPER_RELATION_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace pg_ark {

enum class RelationFork { main, fsm, vm, init };

struct RelationFileName {
    size_t relfilenode_length = 0; /* digits at the start of the name */
    RelationFork fork = RelationFork::main;
    uint64_t segment = 0; /* 0 when the name has no ".<segment>"; saturates at UINT64_MAX */
};

/* True (filling *out) when name is a non-temporary relation file name. */
bool ParseRelationFileName(const std::string &name, RelationFileName *out);

/* True when name is a temporary relation's file name. */
bool IsTemporaryRelationFileName(const std::string &name);

}  // namespace pg_ark

#endif
