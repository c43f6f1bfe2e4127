/*
 * repo_key_test.cpp
 *     The repository key: created once, opened only by its passphrase, re-sealed by a new one
 *     without touching data; and the decision "encrypted or not" enforced at every open.
 */
#include "repo_key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "config.h"
#include "repository_encryption.h"
#include "storage_factory.h"
#include "stored_object.h"
#include "test_util.h"

namespace pg_ark {
namespace {

/* Cheap scrypt for tests; the stored parameters are what opening uses. */
KdfParams Fast() {
    KdfParams params;
    params.n = 1 << 10;
    return params;
}

RepoPath Path(const std::string &text) { return *RepoPath::Make(text); }

Config EncryptedConfig(const std::string &repo, const std::string &pass) {
    Config config;
    config.path = "/etc/pg_ark.conf";
    config.repo_path = repo;
    config.cipher_type = CipherType::aes_256_gcm;
    config.cipher_pass = pass;
    config.clusters["main"].name = "main";
    return config;
}

TEST(RepoKeyTest, WrapAndUnwrap) {
    SecretKey key;
    ASSERT_TRUE(RandomBytes(key.data(), kAesKeySize).ok());
    auto text = WrapRepositoryKey(key, "correct horse", Fast());
    ASSERT_TRUE(text.ok()) << text.status().message();
    EXPECT_EQ(text->find("correct horse"), std::string::npos);
    auto opened = UnwrapRepositoryKey(*text, "correct horse", "/r/repo.key");
    ASSERT_TRUE(opened.ok()) << opened.status().message();
    EXPECT_EQ(memcmp(opened->data(), key.data(), kAesKeySize), 0);

    auto wrong = UnwrapRepositoryKey(*text, "correct horsf", "/r/repo.key");
    ASSERT_FALSE(wrong.ok());
    EXPECT_EQ(wrong.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(wrong.status().message().find("wrong passphrase"), std::string::npos);
    EXPECT_NE(wrong.status().message().find("/r/repo.key"), std::string::npos);
    EXPECT_EQ(wrong.status().message().find("horse"), std::string::npos);

    /* A changed parameter fails like a wrong passphrase; garbage is corrupt. */
    std::string changed = *text;
    changed.replace(changed.find("\"scrypt_r\": 8"), 13, "\"scrypt_r\": 9");
    EXPECT_FALSE(UnwrapRepositoryKey(changed, "correct horse", "k").ok());
    auto garbage = UnwrapRepositoryKey("{not json", "correct horse", "k");
    ASSERT_FALSE(garbage.ok());
    EXPECT_EQ(garbage.status().kind(), ErrorKind::corrupt);
    /* A hostile cost must not be run. */
    std::string huge = *text;
    huge.replace(huge.find("\"scrypt_n\": 1024"), 16, "\"scrypt_n\": 1099511627776");
    auto refused = UnwrapRepositoryKey(huge, "correct horse", "k");
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().kind(), ErrorKind::corrupt);
}

TEST(RepoKeyTest, PassphraseChangeKeepsDataAndRetiresOldPassphrase) {
    pg_ark_test::TempDir dir("pg_ark_repo_key");
    Config config = EncryptedConfig(dir.path(), "old passphrase");
    auto raw = MakePosixStorage(dir.path());
    auto created = InitRepositoryEncryption(*raw, config, Fast());
    ASSERT_TRUE(created.ok()) << created.status().message();
    EXPECT_TRUE(*created);
    auto again = InitRepositoryEncryption(*raw, config, Fast());
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);

    auto storage = OpenRepositoryStorage(config);
    ASSERT_TRUE(storage.ok()) << storage.status().message();
    ASSERT_TRUE(WriteWholeObject(**storage, Path("main/data"), "precious rows", kUncompressed,
                                 WriteMode::create_new).ok());
    std::string before = pg_ark_test::ReadFileBytes(dir.Sub("main/data"));

    ASSERT_TRUE(ChangeRepositoryPassphrase(*raw, "old passphrase", "new passphrase", Fast()).ok());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir.Sub("main/data")), before) << "data was rewritten";

    auto old_open = OpenRepositoryStorage(config);
    ASSERT_FALSE(old_open.ok());
    EXPECT_EQ(old_open.status().kind(), ErrorKind::invalid_argument);
    EXPECT_NE(old_open.status().message().find("wrong passphrase"), std::string::npos);

    config.cipher_pass = "new passphrase";
    auto new_open = OpenRepositoryStorage(config);
    ASSERT_TRUE(new_open.ok()) << new_open.status().message();
    auto read = ReadWholeObject(**new_open, Path("main/data"));
    ASSERT_TRUE(read.ok()) << read.status().message();
    EXPECT_EQ(*read, "precious rows");

    /* A wrong old passphrase changes nothing. */
    std::string key_text = pg_ark_test::ReadFileBytes(dir.Sub("repo.key"));
    EXPECT_FALSE(ChangeRepositoryPassphrase(*raw, "old passphrase", "third", Fast()).ok());
    EXPECT_EQ(pg_ark_test::ReadFileBytes(dir.Sub("repo.key")), key_text);
}

TEST(RepoKeyTest, EncryptionIsDecidedOnceAndEnforced) {
    pg_ark_test::TempDir dir("pg_ark_repo_key");
    Config plain = EncryptedConfig(dir.path(), "");
    plain.cipher_type = CipherType::none;
    auto storage = OpenRepositoryStorage(plain);
    ASSERT_TRUE(storage.ok());
    ASSERT_TRUE(WriteWholeObject(**storage, Path("main/cluster.info"), "{}", kUncompressed,
                                 WriteMode::create_new).ok());

    /* A repository with unencrypted objects does not become encrypted. */
    Config encrypted = EncryptedConfig(dir.path(), "pass");
    auto raw = MakePosixStorage(dir.path());
    auto refused = InitRepositoryEncryption(*raw, encrypted, Fast());
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("unencrypted"), std::string::npos);
    EXPECT_FALSE(pg_ark_test::PathExists(dir.Sub("repo.key")));

    /* Encryption configured on a repository without a key: every object open says so. */
    auto unkeyed = OpenRepositoryStorage(encrypted);
    ASSERT_TRUE(unkeyed.ok());
    auto read = ReadWholeObject(**unkeyed, Path("main/cluster.info"));
    ASSERT_FALSE(read.ok());
    EXPECT_EQ(read.status().kind(), ErrorKind::not_initialized);
    EXPECT_NE(read.status().message().find("pg_ark init"), std::string::npos);

    /* An encrypted repository is not opened without repo-cipher-type. */
    pg_ark_test::TempDir other("pg_ark_repo_key");
    Config other_encrypted = EncryptedConfig(other.path(), "pass");
    auto other_raw = MakePosixStorage(other.path());
    ASSERT_TRUE(InitRepositoryEncryption(*other_raw, other_encrypted, Fast()).ok());
    Config other_plain = plain;
    other_plain.repo_path = other.path();
    auto downgrade = OpenRepositoryStorage(other_plain);
    ASSERT_FALSE(downgrade.ok());
    EXPECT_NE(downgrade.status().message().find("repo-cipher-type"), std::string::npos);
}

TEST(RepoKeyTest, ConfigWithSecretsMustBePrivate) {
    pg_ark_test::TempDir dir("pg_ark_repo_key");
    std::string path = dir.Sub("pg_ark.conf");
    const std::string secret = "s3cr3t-passphrase-value";
    pg_ark_test::WriteFileBytes(path, "[global]\nrepo-path = /r\nrepo-cipher-type = aes-256-gcm\n"
                                      "repo-cipher-pass = " + secret + "\n");
    for (mode_t mode : {0640, 0604, 0660, 0644}) {
        ASSERT_EQ(chmod(path.c_str(), mode), 0);
        auto config = LoadConfig(path);
        ASSERT_FALSE(config.ok()) << std::oct << mode;
        EXPECT_EQ(config.status().kind(), ErrorKind::invalid_argument);
        EXPECT_NE(config.status().message().find("chmod 600 " + path), std::string::npos)
            << config.status().message();
        EXPECT_EQ(config.status().message().find(secret), std::string::npos);
    }
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    auto config = LoadConfig(path);
    ASSERT_TRUE(config.ok()) << config.status().message();
    EXPECT_EQ(config->cipher_type, CipherType::aes_256_gcm);
    EXPECT_EQ(config->cipher_pass, secret);

    /* Without secrets the mode is the owner's business, as before. */
    pg_ark_test::WriteFileBytes(path, "[global]\nrepo-path = /r\n");
    ASSERT_EQ(chmod(path.c_str(), 0644), 0);
    EXPECT_TRUE(LoadConfig(path).ok());
    /* The S3 secret key counts too (by name, before the S3 settings are parsed), and the mode
     * is refused even when the text has another error. */
    pg_ark_test::WriteFileBytes(path, "[global]\nrepo-path = /r\nrepo-s3-key-secret = x\nbogus\n");
    auto s3 = LoadConfig(path);
    ASSERT_FALSE(s3.ok());
    EXPECT_NE(s3.status().message().find("holds secrets"), std::string::npos) << s3.status().message();
}

TEST(RepoKeyTest, CipherSettingsAreChecked) {
    auto missing = ParseConfig("[global]\nrepo-path = /r\nrepo-cipher-type = aes-256-gcm\n", "f");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.status().message().find("needs repo-cipher-pass"), std::string::npos);
    auto orphan = ParseConfig("[global]\nrepo-path = /r\nrepo-cipher-pass = hunter2\n", "f");
    ASSERT_FALSE(orphan.ok());
    EXPECT_EQ(orphan.status().message().find("hunter2"), std::string::npos);
    auto bad = ParseConfig("[global]\nrepo-path = /r\nrepo-cipher-type = rot13\n", "f");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.status().message().find("aes-256-gcm"), std::string::npos);
    auto typo = ParseConfig("[global]\nrepo-path = /r\nrepo-cipher-pass: hunter2\n", "f");
    ASSERT_FALSE(typo.ok());
    EXPECT_EQ(typo.status().message().find("hunter2"), std::string::npos) << typo.status().message();
    auto empty = ParseConfig("[global]\nrepo-path = /r\nrepo-cipher-type = aes-256-gcm\nrepo-cipher-pass =\n", "f");
    ASSERT_FALSE(empty.ok());
}

}  // namespace
}  // namespace pg_ark
