/*
 * xxh128.cpp
 *     XXH3-128 through libxxhash's streaming interface.
 */
#include "xxh128.h"

#include <string.h>
#include <xxhash.h>

#include <cstdlib>

#include "hex.h"

namespace pg_ark {

struct Xxh128::State {
    XXH3_state_t *state = XXH3_createState();
    ~State() { XXH3_freeState(state); }
};

Xxh128::Xxh128() : state_(std::make_unique<State>()) {
    /* Only an allocation can fail here, and then nothing sane is left to do (as in sha256.cpp). */
    if (state_->state == nullptr || XXH3_128bits_reset(state_->state) != XXH_OK) std::abort();
}

Xxh128::~Xxh128() = default;

void Xxh128::Update(const void *data, size_t size) {
    if (size > 0 && XXH3_128bits_update(state_->state, data, size) != XXH_OK) std::abort();
}

Xxh128Digest Xxh128::Finish() {
    XXH128_canonical_t canonical;
    XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(state_->state));
    Xxh128Digest digest;
    static_assert(sizeof canonical.digest == sizeof(Xxh128Digest), "XXH3-128 is 16 bytes");
    memcpy(digest.data(), canonical.digest, digest.size());
    return digest;
}

Xxh128Digest Xxh128Of(const void *data, size_t size) {
    Xxh128 hash;
    hash.Update(data, size);
    return hash.Finish();
}

std::string ToHex(const Xxh128Digest &digest) { return HexOf(digest.data(), digest.size()); }

}  // namespace pg_ark
