/*
 * relation_file.cpp
 *     Parsing relation file names (see relation_file.h).
 */
#include "relation_file.h"

#include <string.h>

namespace pg_ark {

namespace {

constexpr size_t kOidChars = 10;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

/* Digits starting at pos; returns how many. */
size_t CountDigits(const std::string &name, size_t pos) {
    size_t end = pos;
    while (end < name.size() && IsDigit(name[end])) end++;
    return end - pos;
}

/*
 * Parses "[_fork][.segment]" at pos up to the end of name. Like the server's forkname_chars,
 * "_main" is not a fork suffix: the main fork has none.
 */
bool ParseForkAndSegment(const std::string &name, size_t pos, RelationFork *fork,
                         uint64_t *segment) {
    static const struct {
        const char *suffix;
        RelationFork fork;
    } kForks[] = {
        {"_fsm", RelationFork::fsm}, {"_vm", RelationFork::vm}, {"_init", RelationFork::init}};
    *fork = RelationFork::main;
    *segment = 0;
    if (pos < name.size() && name[pos] == '_') {
        bool found = false;
        for (const auto &candidate : kForks) {
            size_t length = strlen(candidate.suffix);
            if (name.compare(pos, length, candidate.suffix) == 0) {
                *fork = candidate.fork;
                pos += length;
                found = true;
                break;
            }
        }
        if (!found) return false;
    }
    if (pos < name.size() && name[pos] == '.') {
        size_t digits = CountDigits(name, pos + 1);
        if (digits == 0) return false;
        for (size_t i = pos + 1; i < pos + 1 + digits; i++) {
            /* The grammar takes any number of digits; absurd values saturate. */
            uint64_t digit = static_cast<uint64_t>(name[i] - '0');
            *segment = *segment > (UINT64_MAX - digit) / 10 ? UINT64_MAX : *segment * 10 + digit;
        }
        pos += 1 + digits;
    }
    return pos == name.size();
}

}  // namespace

bool ParseRelationFileName(const std::string &name, RelationFileName *out) {
    size_t digits = CountDigits(name, 0);
    if (digits == 0 || digits > kOidChars) return false;
    RelationFileName parsed;
    parsed.relfilenode_length = digits;
    if (!ParseForkAndSegment(name, digits, &parsed.fork, &parsed.segment)) return false;
    *out = parsed;
    return true;
}

bool IsTemporaryRelationFileName(const std::string &name) {
    if (name.empty() || name[0] != 't') return false;
    size_t backend = CountDigits(name, 1);
    if (backend == 0 || 1 + backend >= name.size() || name[1 + backend] != '_') return false;
    size_t pos = 2 + backend;
    size_t relfilenode = CountDigits(name, pos);
    if (relfilenode == 0) return false;
    RelationFork fork;
    uint64_t segment;
    return ParseForkAndSegment(name, pos + relfilenode, &fork, &segment);
}

}  // namespace pg_ark
