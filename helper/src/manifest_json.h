/*
 * manifest_json.h
 *     The JSON form of manifests and backup metadata, shared by the manifest, the catalog index
 *     and the CLI.
 *
 * Reading is strict: every field is required, has exactly one JSON type, and an unknown field
 * is an error. A reader that met a field it does not understand could restore something other
 * than what was backed up; new meanings need a new format version instead. Values that can be
 * checked alone (ids, names, paths, modes) are checked here; rules that span several entries are
 * ParseManifest's (manifest.cpp). Nothing here throws.
 */
#ifndef PG_ARK_HELPER_MANIFEST_JSON_H
#define PG_ARK_HELPER_MANIFEST_JSON_H

#include <nlohmann/json.hpp>
#include <string>

#include "manifest.h"

namespace pg_ark {

/* Writers keep fields in declaration order, for people reading the files. */
nlohmann::ordered_json MetadataToJson(const BackupMetadata &metadata);
/* On failure, the message says what is wrong (field, value) without naming the document. */
Result<BackupMetadata> MetadataFromJson(const nlohmann::json &json);

nlohmann::ordered_json ManifestToJson(const Manifest &manifest);
Result<Manifest> ManifestFromJson(const nlohmann::json &json);

/* A string from an untrusted document, quoted and escaped for a message. */
std::string QuoteForMessage(const std::string &text);

}  // namespace pg_ark

#endif
