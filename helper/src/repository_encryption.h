/*
 * repository_encryption.h
 *     Whether a repository is encrypted, decided once at `pg_ark init` and enforced at every
 *     open: a repository holding repo.key is opened only with repo-cipher-type = aes-256-gcm and
 *     a passphrase that opens the key; one without is opened only unencrypted. So plaintext is
 *     never written next to ciphertext, and a missing setting is an error, not a silent downgrade.
 */
#ifndef PG_ARK_HELPER_REPOSITORY_ENCRYPTION_H
#define PG_ARK_HELPER_REPOSITORY_ENCRYPTION_H

#include <memory>

#include "config.h"
#include "repo_key.h"
#include "storage.h"

namespace pg_ark {

/*
 * raw itself when the configuration asks for no encryption (refused when raw holds repo.key);
 * otherwise raw wrapped in encryption (encrypted_storage.h). An existing repo.key is opened now,
 * so a wrong passphrase fails before anything else; a missing one is looked for again when the
 * first object is opened (a helper may be started before `pg_ark init`).
 */
Result<std::unique_ptr<Storage>> WrapRepositoryEncryption(std::unique_ptr<Storage> raw,
                                                          const Config &config);

/*
 * For `pg_ark init`: with encryption configured, creates repo.key in a new repository or checks
 * the passphrase opens the existing one (see EnsureRepositoryKey); without, nothing. Returns
 * whether it created the key.
 */
Result<bool> InitRepositoryEncryption(Storage &raw, const Config &config,
                                      const KdfParams &params = KdfParams());

}  // namespace pg_ark

#endif
