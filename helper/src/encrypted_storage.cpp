/*
 * encrypted_storage.cpp
 *     See encrypted_storage.h.
 */
#include "encrypted_storage.h"

#include <fmt/format.h>
#include <string.h>

#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pg_ark {

namespace {

constexpr char kMagic[8] = {'P', 'G', 'A', 'R', 'K', 'E', 'C', '1'};
constexpr uint32_t kVersion = 1;
constexpr size_t kSaltSize = 32;
/* Bounds on a header's chunk size: a damaged header must not make us allocate gigabytes. */
constexpr size_t kMinChunkSize = 16;
constexpr size_t kMaxChunkSize = size_t{16} << 20;
constexpr char kObjectKeyLabel[] = "pg_ark object key v1";

void PutU32(uint8_t *out, uint32_t value) {
    for (int i = 0; i < 4; i++) out[i] = static_cast<uint8_t>(value >> (8 * i));
}
void PutU64(uint8_t *out, uint64_t value) {
    for (int i = 0; i < 8; i++) out[i] = static_cast<uint8_t>(value >> (8 * i));
}
uint32_t GetU32(const uint8_t *in) {
    uint32_t value = 0;
    for (int i = 3; i >= 0; i--) value = (value << 8) | in[i];
    return value;
}

SecretKey ObjectKey(const SecretKey &repository_key, const uint8_t *header) {
    uint8_t message[sizeof kObjectKeyLabel + kSaltSize];
    memcpy(message, kObjectKeyLabel, sizeof kObjectKeyLabel); /* with its NUL: a fixed separator */
    memcpy(message + sizeof kObjectKeyLabel, header + 16, kSaltSize);
    return DeriveKey(repository_key, message, sizeof message);
}

/* What one chunk's tag also authenticates; see the header comment. */
class ChunkSealing {
  public:
    ChunkSealing(const SecretKey &repository_key, const uint8_t *header, const std::string &path)
        : key_(ObjectKey(repository_key, header)) {
        aad_.assign(header, header + kEncryptionHeaderSize);
        aad_.resize(kEncryptionHeaderSize + 9);
        aad_.insert(aad_.end(), path.begin(), path.end());
    }

    Status Seal(uint64_t index, bool last, const uint8_t *plaintext, size_t size, uint8_t *out) {
        uint8_t nonce[kGcmNonceSize];
        Prepare(index, last, nonce);
        return GcmSeal(key_, nonce, aad_.data(), aad_.size(), plaintext, size, out);
    }

    bool Open(uint64_t index, bool last, const uint8_t *sealed, size_t size, uint8_t *out) {
        uint8_t nonce[kGcmNonceSize];
        Prepare(index, last, nonce);
        return GcmOpen(key_, nonce, aad_.data(), aad_.size(), sealed, size, out);
    }

  private:
    void Prepare(uint64_t index, bool last, uint8_t *nonce) {
        memset(nonce, 0, 4);
        PutU64(nonce + 4, index);
        PutU64(&aad_[kEncryptionHeaderSize], index);
        aad_[kEncryptionHeaderSize + 8] = last ? 1 : 0;
    }

    SecretKey key_;
    std::vector<uint8_t> aad_;
};

class EncryptedWriteStream : public WriteStream {
  public:
    EncryptedWriteStream(std::unique_ptr<WriteStream> inner, const SecretKey &key,
                         const uint8_t *header, const std::string &path, size_t chunk_size)
        : inner_(std::move(inner)), sealing_(key, header, path), chunk_size_(chunk_size) {
        plaintext_.reserve(chunk_size);
        sealed_.resize(chunk_size + kGcmTagSize);
    }

    Status Write(const void *data, size_t size) override {
        const uint8_t *p = static_cast<const uint8_t *>(data);
        while (size > 0) {
            /* A full chunk is sealed only once more bytes come: until Close, any chunk may be the last. */
            if (plaintext_.size() == chunk_size_) PG_ARK_RETURN_IF_ERROR(Emit(false));
            size_t n = std::min(size, chunk_size_ - plaintext_.size());
            plaintext_.insert(plaintext_.end(), p, p + n);
            p += n;
            size -= n;
        }
        return Status::Ok();
    }

    Status Close() override {
        PG_ARK_RETURN_IF_ERROR(Emit(true));
        return inner_->Close();
    }

  private:
    Status Emit(bool last) {
        PG_ARK_RETURN_IF_ERROR(
            sealing_.Seal(index_, last, plaintext_.data(), plaintext_.size(), sealed_.data()));
        PG_ARK_RETURN_IF_ERROR(inner_->Write(sealed_.data(), plaintext_.size() + kGcmTagSize));
        index_++;
        plaintext_.clear();
        return Status::Ok();
    }

    std::unique_ptr<WriteStream> inner_;
    ChunkSealing sealing_;
    size_t chunk_size_;
    uint64_t index_ = 0;
    std::vector<uint8_t> plaintext_;
    std::vector<uint8_t> sealed_;
};

class EncryptedReadStream : public ReadStream {
  public:
    EncryptedReadStream(std::unique_ptr<ReadStream> inner, const SecretKey &key,
                        const uint8_t *header, std::string path, std::string where,
                        size_t chunk_size)
        : inner_(std::move(inner)), sealing_(key, header, path), where_(std::move(where)),
          chunk_size_(chunk_size) {}

    Result<size_t> Read(void *buffer, size_t size) override {
        /* Sticky: a caller reading on after a failure must never see it as the end. */
        if (!failure_.ok()) return failure_;
        while (position_ == plaintext_.size() && !finished_) {
            Status next = NextChunk();
            if (!next.ok()) {
                failure_ = next;
                return next;
            }
        }
        size_t n = std::min(size, plaintext_.size() - position_);
        memcpy(buffer, plaintext_.data() + position_, n);
        position_ += n;
        return n;
    }

  private:
    /* Decrypts and verifies the next chunk into plaintext_. */
    Status NextChunk() {
        const size_t sealed_size = chunk_size_ + kGcmTagSize;
        /* One byte past a full chunk tells whether it is the last. */
        while (!eof_ && pending_.size() < sealed_size + 1) {
            size_t have = pending_.size();
            pending_.resize(sealed_size + 1);
            auto got = inner_->Read(pending_.data() + have, pending_.size() - have);
            if (!got.ok()) {
                pending_.resize(have);
                return got.status();
            }
            pending_.resize(have + *got);
            if (*got == 0) eof_ = true;
        }
        bool last = pending_.size() <= sealed_size;
        size_t take = last ? pending_.size() : sealed_size;
        if (take < kGcmTagSize) return Failed();
        plaintext_.resize(take - kGcmTagSize);
        position_ = 0;
        if (!sealing_.Open(index_, last, pending_.data(), take, plaintext_.data())) {
            plaintext_.clear();
            return Failed();
        }
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(take));
        index_++;
        finished_ = last;
        return Status::Ok();
    }

    Status Failed() {
        return Status(ErrorKind::corrupt,
                      fmt::format("could not decrypt \"{}\": authentication failed at chunk {}: "
                                  "the object was tampered with, truncated, or written with "
                                  "another key; it was not used",
                                  where_, index_));
    }

    std::unique_ptr<ReadStream> inner_;
    ChunkSealing sealing_;
    std::string where_;
    size_t chunk_size_;
    uint64_t index_ = 0;
    std::vector<uint8_t> pending_;   /* stored bytes read but not yet decrypted */
    std::vector<uint8_t> plaintext_; /* the current verified chunk */
    size_t position_ = 0;
    bool eof_ = false;
    bool finished_ = false;
    Status failure_;
};

class EncryptedStorage : public Storage {
  public:
    EncryptedStorage(std::unique_ptr<Storage> inner, RepositoryKeySource key_source, size_t chunk_size)
        : inner_(std::move(inner)), key_source_(std::move(key_source)), chunk_size_(chunk_size) {}

    Result<std::unique_ptr<ReadStream>> OpenRead(const RepoPath &path) override {
        auto stream = inner_->OpenRead(path);
        if (!stream.ok()) return stream.status();
        auto key = Key();
        if (!key.ok()) return key.status();
        std::string where = fmt::format("{}/{}", inner_->Describe(), path.str());
        uint8_t header[kEncryptionHeaderSize];
        size_t have = 0;
        while (have < sizeof header) {
            auto got = (*stream)->Read(header + have, sizeof header - have);
            if (!got.ok()) return got.status();
            if (*got == 0) break;
            have += *got;
        }
        if (have < sizeof header || memcmp(header, kMagic, sizeof kMagic) != 0)
            return Status(ErrorKind::corrupt,
                          fmt::format("object \"{}\" is not encrypted (no pg_ark encryption "
                                      "header{}), but the repository is: it was not written by "
                                      "this repository's pg_ark, or it was damaged",
                                      where, have < sizeof header ? ", object too short" : ""));
        uint32_t version = GetU32(header + 8);
        size_t chunk_size = GetU32(header + 12);
        if (version != kVersion || chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize)
            return Status(ErrorKind::corrupt,
                          fmt::format("object \"{}\" has an unknown encryption header (version {}, "
                                      "chunk size {})",
                                      where, version, chunk_size));
        return std::unique_ptr<ReadStream>(new EncryptedReadStream(
            std::move(*stream), *key, header, path.str(), std::move(where), chunk_size));
    }

    Result<std::unique_ptr<WriteStream>> OpenWrite(const RepoPath &path, WriteMode mode) override {
        auto key = Key();
        if (!key.ok()) return key.status();
        uint8_t header[kEncryptionHeaderSize];
        memcpy(header, kMagic, sizeof kMagic);
        PutU32(header + 8, kVersion);
        PutU32(header + 12, static_cast<uint32_t>(chunk_size_));
        PG_ARK_RETURN_IF_ERROR(RandomBytes(header + 16, kSaltSize));
        auto stream = inner_->OpenWrite(path, mode);
        if (!stream.ok()) return stream.status();
        PG_ARK_RETURN_IF_ERROR((*stream)->Write(header, sizeof header));
        return std::unique_ptr<WriteStream>(
            new EncryptedWriteStream(std::move(*stream), *key, header, path.str(), chunk_size_));
    }

    Result<ObjectInfo> Info(const RepoPath &path) override { return inner_->Info(path); }
    Result<std::vector<std::string>> List(const RepoPath &directory) override {
        return inner_->List(directory);
    }
    Result<std::vector<ListedObject>> ListObjects(const RepoPath &directory) override {
        return inner_->ListObjects(directory);
    }
    Status Remove(const RepoPath &path) override { return inner_->Remove(path); }
    Status RemoveDirectory(const RepoPath &directory) override {
        return inner_->RemoveDirectory(directory);
    }
    Result<std::optional<uint64_t>> FreeBytes() override { return inner_->FreeBytes(); }
    std::string Describe() const override { return inner_->Describe(); }

  private:
    Result<SecretKey> Key() {
        std::lock_guard<std::mutex> guard(mutex_);
        if (!key_) {
            auto loaded = key_source_();
            if (!loaded.ok()) return loaded.status();
            key_ = *loaded;
        }
        return *key_;
    }

    std::unique_ptr<Storage> inner_;
    RepositoryKeySource key_source_;
    size_t chunk_size_;
    std::mutex mutex_;
    std::optional<SecretKey> key_;  // guarded by mutex_
};

}  // namespace

std::unique_ptr<Storage> MakeEncryptedStorage(std::unique_ptr<Storage> inner,
                                              RepositoryKeySource key_source, size_t chunk_size) {
    return std::make_unique<EncryptedStorage>(std::move(inner), std::move(key_source), chunk_size);
}

}  // namespace pg_ark
