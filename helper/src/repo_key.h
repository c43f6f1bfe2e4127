/*
 * repo_key.h
 *     The repository key of an encrypted repository and its wrapping by the passphrase.
 *
 * `pg_ark init` of an encrypted repository draws a random 256-bit repository key; every object
 * is encrypted under keys derived from it (encrypted_storage.h). The key itself is stored in
 * <repo>/repo.key, sealed (AES-256-GCM) under a key derived from repo-cipher-pass by scrypt with
 * a random salt. So the passphrase can be changed by re-sealing this one small object, without
 * rewriting any data, and a wrong passphrase is detected by the seal's tag before any object is
 * read. repo.key is written and read through the raw storage (never itself encrypted):
 *
 *     {"format": 1, "cipher": "aes-256-gcm", "kdf": "scrypt", "scrypt_n": 32768, "scrypt_r": 8,
 *      "scrypt_p": 1, "salt": "<16 bytes hex>", "nonce": "<12 bytes hex>",
 *      "sealed_key": "<32 + 16 bytes hex>"}
 *
 * The seal's additional data binds the format and every KDF parameter. These field meanings
 * never change for format 1.
 */
#ifndef PG_ARK_HELPER_REPO_KEY_H
#define PG_ARK_HELPER_REPO_KEY_H

#include <stdint.h>

#include <string>
#include <vector>

#include "aes_gcm.h"
#include "storage.h"

namespace pg_ark {

constexpr char kRepositoryKeyName[] = "repo.key";

/* scrypt's cost. The default takes 0.1 to 0.5 s and 32 MiB once per process (measured). */
struct KdfParams {
    uint64_t n = uint64_t{1} << 15;
    uint32_t r = 8;
    uint32_t p = 1;
};

/* The text of repo.key holding key sealed under passphrase (a fresh salt and nonce each time). */
Result<std::string> WrapRepositoryKey(const SecretKey &key, const std::string &passphrase,
                                      const KdfParams &params);

/*
 * The repository key in a repo.key text; where names the object in messages. A passphrase that
 * does not open it is invalid_argument (a configuration problem), a malformed text corrupt.
 */
Result<SecretKey> UnwrapRepositoryKey(const std::string &text, const std::string &passphrase,
                                      const std::string &where);

/* Reads and opens <raw>/repo.key. not_initialized when the repository has none. */
Result<SecretKey> LoadRepositoryKey(Storage &raw, const std::string &passphrase);

/*
 * Makes sure an encrypted repository has its key: opens an existing repo.key (so a wrong
 * passphrase is refused at init), or, in a repository holding nothing yet, creates one. A
 * repository that already holds objects under one of top_level (the configured clusters'
 * directories: the storage interface cannot list the root) is refused: encryption is chosen
 * when a repository is created, never mixed. Returns whether it created the key.
 */
Result<bool> EnsureRepositoryKey(Storage &raw, const std::vector<std::string> &top_level,
                                 const std::string &passphrase,
                                 const KdfParams &params = KdfParams());

/*
 * Re-seals the repository key under new_passphrase with a new salt and replaces repo.key in one
 * atomic commit (the storage's replace). No object changes; old_passphrase no longer opens it.
 */
Status ChangeRepositoryPassphrase(Storage &raw, const std::string &old_passphrase,
                                  const std::string &new_passphrase,
                                  const KdfParams &params = KdfParams());

}  // namespace pg_ark

#endif
