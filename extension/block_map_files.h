/*
 * block_map_files.h
 *     The block map directory ($PGDATA/pg_wal/pg_ark_blockmap) as the tracker and the SQL
 *     functions see it: listing, reading, and the atomic write of one map.
 *
 * Only names blockmap::ParseFileName accepts are maps; the temp file and the state file have
 * names it rejects. Paths are relative to the data directory, which is the working directory
 * of every PostgreSQL process.
 */
#ifndef PG_ARK_EXTENSION_BLOCK_MAP_FILES_H
#define PG_ARK_EXTENSION_BLOCK_MAP_FILES_H

#include "pg_includes.h"

#include "block_map.h"

class BlockRefTable;

struct MapFile {
    XLogRecPtr start_lsn;
    XLogRecPtr end_lsn;
    uint64 bytes;
};

/* The temp file a map is written to before its rename, and the retention state file. */
constexpr const char *kMapTempName = "map.tmp";
constexpr const char *kRetainStateName = "retain_from";

/* path = kDirectory/name. */
void MapDirectoryPath(char *out, size_t size, const char *name);
void MapFilePath(char *out, size_t size, XLogRecPtr start_lsn, XLogRecPtr end_lsn);

/* Every map in the directory, sorted by start_lsn (palloc'd; *count 0 and nullptr when none
 * or when the directory does not exist). */
MapFile *ListMapFiles(int *count);

/* Reads the first bytes of a map; false (errno set) when it cannot be opened or is short. */
bool ReadMapHeader(const MapFile &map, pg_ark::blockmap::FileHeader *header);

/*
 * Reads a whole map into palloc'd memory and validates it: an ERROR naming the file when it
 * cannot be read, does not validate, or belongs to another system (so a damaged map can never
 * be taken for an empty one). Returns the data and its length.
 */
char *ReadValidatedMap(const MapFile &map, size_t *length, pg_ark::blockmap::FileHeader *header);

/*
 * Writes table as the map [start_lsn, end_lsn) atomically and durably: temp file, then
 * durable_rename (which fsyncs the file, renames, and fsyncs the directory). ERROR on failure,
 * leaving no map behind.
 */
void WriteMapFile(BlockRefTable *table, XLogRecPtr start_lsn, XLogRecPtr end_lsn,
                  TimeLineID timeline);

#endif
