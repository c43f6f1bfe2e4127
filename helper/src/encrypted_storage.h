/*
 * encrypted_storage.h
 *     A Storage that encrypts and authenticates every object it stores in another Storage
 *     (posix or object storage), so nothing above it changes: the stored-object format
 *     (stored_object.h, compressed and checksummed) lives inside the encryption.
 *
 * Each object is a header and a sequence of AES-256-GCM chunks:
 *
 *     header (48 bytes)  "PGARKEC1", u32 format version (1), u32 chunk size (plaintext bytes,
 *                        65536), 32 random bytes (the object salt)
 *     chunk i            ciphertext of plaintext bytes [i*chunk, (i+1)*chunk), then its 16-byte tag
 *
 * Every chunk is full but the last, which holds 0..chunk bytes (an empty object is one empty
 * last chunk). The chunks are sealed under a key of their own per object, HMAC-SHA256(repository
 * key, "pg_ark object key v1" + salt), so nonces (4 zero bytes + u64 chunk index) never repeat
 * under one key. Each chunk's additional authenticated data is the header, its index, a "last
 * chunk" flag and the object's path in the repository: a flipped bit anywhere, a truncation (even
 * at a chunk boundary, which turns a non-last chunk into the apparent last one), reordered
 * chunks, or an intact object moved or copied to another name all fail authentication. Reads
 * verify a chunk's tag before returning any of its bytes; a failure is ErrorKind::corrupt naming
 * the object. Integers are little-endian; these byte meanings never change for version 1.
 *
 * Sizes (Info, ListObjects) are the stored sizes: they feed accounting (bytes freed by expiry)
 * and nothing compares them with plaintext sizes; the stored-object summary inside carries
 * those.
 */
#ifndef PG_ARK_HELPER_ENCRYPTED_STORAGE_H
#define PG_ARK_HELPER_ENCRYPTED_STORAGE_H

#include <stddef.h>

#include <functional>
#include <memory>

#include "aes_gcm.h"
#include "storage.h"

namespace pg_ark {

constexpr size_t kEncryptionHeaderSize = 48;
constexpr size_t kEncryptionChunkSize = 65536;

/*
 * Where the repository key comes from. Called when an object is first opened (not at
 * construction: a helper may start before `pg_ark init` created repo.key), and again after a
 * failure; the first key it returns is kept for the storage's life.
 */
using RepositoryKeySource = std::function<Result<SecretKey>()>;

/* chunk_size: plaintext bytes per chunk of objects written (tests use small ones). */
std::unique_ptr<Storage> MakeEncryptedStorage(std::unique_ptr<Storage> inner,
                                              RepositoryKeySource key_source,
                                              size_t chunk_size = kEncryptionChunkSize);

}  // namespace pg_ark

#endif
