/*
 * xxh128.h
 *     Incremental XXH3-128 (libxxhash): a fast, non-cryptographic checksum.
 *
 * Backups record it beside each part's SHA-256 so a delta restore can compare a file it left in
 * place at memory speed (XXH3 runs an order of magnitude faster than SHA-256 here). It only
 * tells which bytes changed; SHA-256 stays what proves a restore right. Digests are in XXH3's
 * canonical (big-endian) byte order, so their hex is what `xxhsum -H2` prints.
 */
#ifndef PG_ARK_HELPER_XXH128_H
#define PG_ARK_HELPER_XXH128_H

#include <stddef.h>
#include <stdint.h>

#include <array>
#include <memory>
#include <string>

namespace pg_ark {

using Xxh128Digest = std::array<uint8_t, 16>;

class Xxh128 {
  public:
    Xxh128();
    ~Xxh128();
    Xxh128(const Xxh128 &) = delete;
    Xxh128 &operator=(const Xxh128 &) = delete;

    void Update(const void *data, size_t size);
    Xxh128Digest Finish();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

Xxh128Digest Xxh128Of(const void *data, size_t size);
std::string ToHex(const Xxh128Digest &digest);

}  // namespace pg_ark

#endif
