/*
 * server.cpp
 *     The helper daemon: socket setup, peer-credential checks, one thread per connection, and
 *     the request dispatcher. See server.h for the guarantees.
 */
#include "server.h"
#include "storage_factory.h"

#include <errno.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "frame_io.h"
#include "log.h"
#include "storage_factory.h"

namespace pg_ark {

namespace {

constexpr int kIdleTimeoutMs = 300 * 1000;  /* a client may keep a connection between requests */
/* Within a backup session the client may be busy for long: a spread checkpoint, pg_backup_stop. */
constexpr int kSessionIdleTimeoutMs = 24 * 3600 * 1000;
constexpr int kFrameTimeoutMs = 30 * 1000;  /* once a frame starts, it must finish */
constexpr int kReplyTimeoutMs = 30 * 1000;

std::string Directory(const std::string &path) {
    size_t slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

/* The socket directory is the first gate: it must be ours and closed to everybody else. */
Status PrepareSocketDirectory(const std::string &directory) {
    if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST)
        return ErrnoStatus(errno, fmt::format("could not create socket directory \"{}\"", directory));
    struct stat st;
    if (lstat(directory.c_str(), &st) != 0)
        return ErrnoStatus(errno, fmt::format("could not stat socket directory \"{}\"", directory));
    if (!S_ISDIR(st.st_mode))
        return Status(ErrorKind::invalid_argument,
                      fmt::format("socket directory \"{}\" is not a directory", directory));
    if (st.st_uid != geteuid() || (st.st_mode & 0077) != 0)
        return Status(ErrorKind::permission_denied,
                      fmt::format("socket directory \"{}\" must be owned by the helper's user and "
                                  "have mode 0700 (it has owner {} and mode {:04o})",
                                  directory, st.st_uid, st.st_mode & 07777));
    return Status::Ok();
}

/* Ends the archiver's claim on a file however its request ends, exceptions included. */
struct ClaimRelease {
    WalShipper &shipper;
    bool claimed;
    std::string cluster; /* copies: the request holds char arrays, not strings */
    std::string wal_name;
    int fd;
    bool stored = false;
    ~ClaimRelease() {
        if (claimed) shipper.ReleaseClaim(cluster, wal_name, fd, stored);
    }
};

Status DecodeError(wire::DecodeResult result) {
    return Status(ErrorKind::protocol, fmt::format("invalid request: {}", wire::DecodeResultText(result)));
}

double ElapsedMs(const std::chrono::steady_clock::time_point &start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Server::Server(Config config) : Server(config, MakePosixStorage(config.repo_path)) {}

Server::Server(Config config, std::unique_ptr<Storage> storage)
    : config_(std::move(config)),
      repository_(std::move(storage)),
      wal_store_(&repository_),
      shipper_(config_, &wal_store_, &repository_),
      backups_(config_, &repository_, &shipper_),
      commands_(config_, &repository_) {}

Server::~Server() {
    if (listener_.valid()) unlink(config_.socket_path.c_str());
}

Status Server::Listen() {
    PG_ARK_RETURN_IF_ERROR(PrepareSocketDirectory(Directory(config_.socket_path)));

    struct stat st;
    if (lstat(config_.socket_path.c_str(), &st) == 0) {
        if (ConnectUnix(config_.socket_path).ok())
            return Status(ErrorKind::conflict,
                          fmt::format("another pg_ark server is already listening on \"{}\"",
                                      config_.socket_path));
        if (!S_ISSOCK(st.st_mode))
            return Status(ErrorKind::conflict,
                          fmt::format("\"{}\" exists and is not a socket", config_.socket_path));
        unlink(config_.socket_path.c_str()); /* left behind by a killed server */
    }

    listener_.Reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!listener_.valid()) return ErrnoStatus(errno, "could not create socket");
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    memcpy(address.sun_path, config_.socket_path.c_str(), config_.socket_path.size());
    if (bind(listener_.get(), reinterpret_cast<struct sockaddr *>(&address), sizeof address) != 0) {
        int saved = errno;
        listener_.Reset();
        return ErrnoStatus(saved, fmt::format("could not bind socket \"{}\"", config_.socket_path));
    }
    /* The directory is the gate; the socket's own mode is set too so it never depends on umask. */
    if (chmod(config_.socket_path.c_str(), 0600) != 0)
        return ErrnoStatus(errno, fmt::format("could not set the mode of socket \"{}\"", config_.socket_path));
    if (listen(listener_.get(), 128) != 0)
        return ErrnoStatus(errno, fmt::format("could not listen on \"{}\"", config_.socket_path));

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) return ErrnoStatus(errno, "could not create pipe");
    stop_pipe_read_.Reset(pipe_fds[0]);
    stop_pipe_write_.Reset(pipe_fds[1]);

    allowed_uids_.insert(geteuid());
    allowed_uids_.insert(config_.allowed_uids.begin(), config_.allowed_uids.end());
    for (const auto &[name, cluster] : config_.clusters) {
        if (stat(cluster.pgdata.c_str(), &st) == 0)
            allowed_uids_.insert(st.st_uid);
        else
            Log(LogLevel::warn, "could not stat data directory \"{}\" of cluster \"{}\": {}",
                cluster.pgdata, name, strerror(errno));
    }
    Log(LogLevel::info, "listening on \"{}\", repository \"{}\"", config_.socket_path,
        config_.RepositoryName());
    return Status::Ok();
}

void Server::Stop() {
    stopping_ = true;
    if (stop_pipe_write_.valid()) {
        char byte = 1;
        ssize_t ignored = write(stop_pipe_write_.get(), &byte, 1);
        (void)ignored; /* the pipe being full already means a stop is pending */
    }
}

Status Server::Serve() {
    shipper_.Start();
    while (!stopping_) {
        struct pollfd fds[2] = {{listener_.get(), POLLIN, 0}, {stop_pipe_read_.get(), POLLIN, 0}};
        int rc = poll(fds, 2, -1);
        if (rc < 0) {
            if (errno == EINTR) continue;
            return ErrnoStatus(errno, "could not poll the listening socket");
        }
        if (fds[1].revents != 0) break;
        if ((fds[0].revents & POLLIN) == 0) continue;
        UniqueFd connection(accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (!connection.valid()) {
            if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
                Log(LogLevel::warn, "could not accept a connection: {}", strerror(errno));
            continue;
        }
        std::unique_lock<std::mutex> lock(mutex_);
        if (active_connections_.size() >= static_cast<size_t>(kMaxConnections)) {
            lock.unlock();
            Log(LogLevel::warn, "refusing a connection: {} connections already open", kMaxConnections);
            (void)WriteReply(connection.get(), wire::kConnectionReplyId,
                             Status(ErrorKind::unavailable, "too many connections to the helper"),
                             1000);
            continue;
        }
        active_connections_.insert(connection.get());
        lock.unlock();
        std::thread([this, fd = connection.Release()]() { HandleConnection(UniqueFd(fd)); }).detach();
    }

    Log(LogLevel::info, "shutting down: finishing requests in flight");
    unlink(config_.socket_path.c_str());
    listener_.Reset();
    std::unique_lock<std::mutex> lock(mutex_);
    for (int fd : active_connections_) shutdown(fd, SHUT_RD); /* idle readers wake with EOF */
    while (!active_connections_.empty()) {
        if (!connections_done_.wait_for(lock, std::chrono::seconds(10),
                                        [this] { return active_connections_.empty(); }))
            Log(LogLevel::info, "waiting for {} request(s) to finish", active_connections_.size());
    }
    lock.unlock();
    shipper_.Stop();
    Log(LogLevel::info, "stopped");
    return Status::Ok();
}

bool Server::PeerAllowed(int connection, std::string *who) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(connection, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) {
        *who = fmt::format("unknown peer ({})", strerror(errno));
        return false;
    }
    *who = fmt::format("uid {} (pid {})", credentials.uid, credentials.pid);
    return allowed_uids_.count(credentials.uid) > 0;
}

void Server::HandleConnection(UniqueFd connection) {
    std::string who;
    if (!PeerAllowed(connection.get(), &who)) {
        Log(LogLevel::warn, "refused connection from {}: not an allowed user", who);
        (void)WriteReply(connection.get(), wire::kConnectionReplyId,
                         Status(ErrorKind::permission_denied,
                                "this user may not use the pg_ark helper; see allowed-users"),
                         kReplyTimeoutMs);
    } else {
        std::shared_ptr<BackupJob> session;
        for (;;) {
            auto frame = ReadFrame(connection.get(), session ? kSessionIdleTimeoutMs : kIdleTimeoutMs,
                                   kFrameTimeoutMs);
            if (!frame.ok()) {
                if (frame.status().kind() == ErrorKind::protocol) {
                    Log(LogLevel::warn, "closing connection from {}: {}", who, frame.status().message());
                    (void)WriteReply(connection.get(), wire::kConnectionReplyId, frame.status(), kReplyTimeoutMs);
                }
                break;
            }
            if (!frame->has_value()) break;
            ReceivedFrame &request = **frame;
            std::string message;
            Status status;
            try {
                status = Dispatch(request, connection.get(), &session, &message);
            } catch (const std::exception &e) {
                status = Status(ErrorKind::internal, fmt::format("internal error: {}", e.what()));
            } catch (...) {
                status = Status(ErrorKind::internal, "internal error");
            }
            if (!status.ok() && status.kind() == ErrorKind::internal)
                Log(LogLevel::error, "{}", status.message());
            Status reply = status.ok() ? Status(ErrorKind::ok, message) : status;
            if (!WriteReply(connection.get(), request.header.request_id, reply, kReplyTimeoutMs).ok())
                break;
            if (status.kind() == ErrorKind::protocol) break; /* framing can't be trusted now */
        }
        if (session) backups_.EndSession(*session, "the database session ended before the backup finished");
    }
    std::lock_guard<std::mutex> lock(mutex_);
    active_connections_.erase(connection.get());
    connection.Reset();
    connections_done_.notify_all();
}

Status Server::Dispatch(ReceivedFrame &frame, int connection, std::shared_ptr<BackupJob> *session,
                        std::string *reply_message) {
    const uint8_t *payload = frame.payload.data();
    size_t length = frame.payload.size();

    switch (frame.header.type) {
        case wire::MessageType::ping: {
            wire::PingRequest request;
            wire::DecodeResult decoded = wire::DecodePing(payload, length, &request);
            if (decoded != wire::DecodeResult::ok) return DecodeError(decoded);
            if (!frame.fds.empty()) return Status(ErrorKind::protocol, "ping takes no file descriptor");
            auto cluster = config_.Cluster(request.cluster);
            if (!cluster.ok()) return cluster.status();
            *reply_message = "pg_ark " PG_ARK_VERSION;
            return Status::Ok();
        }
        case wire::MessageType::archive_push: {
            wire::ArchivePushRequest request;
            wire::DecodeResult decoded = wire::DecodeArchivePush(payload, length, &request);
            if (decoded != wire::DecodeResult::ok) return DecodeError(decoded);
            if (frame.fds.size() != 1)
                return Status(ErrorKind::protocol,
                              "archive request must carry exactly one file descriptor");
            auto cluster = config_.Cluster(request.cluster);
            if (!cluster.ok()) return cluster.status();
            shipper_.Kick();
            int fd = frame.fds[0].get();
            WalShipper::Claim claim = shipper_.ClaimOrFindStored(request.cluster, request.wal_name, fd);
            if (claim == WalShipper::Claim::already_stored) {
                *reply_message =
                    fmt::format("\"{}\" was already archived ahead of the archiver", request.wal_name);
                Log(LogLevel::debug, "{}", *reply_message);
                return Status::Ok();
            }
            ClaimRelease release{shipper_, claim == WalShipper::Claim::claimed, request.cluster,
                                 request.wal_name, fd};
            auto start = std::chrono::steady_clock::now();
            auto outcome = wal_store_.Push(request.cluster, request.system_identifier,
                                           request.wal_name, fd, (*cluster)->compression);
            release.stored = outcome.ok();
            if (!outcome.ok()) {
                Log(LogLevel::warn, "could not archive \"{}\" of cluster \"{}\": {}", request.wal_name,
                    request.cluster, outcome.status().message());
                return outcome.status();
            }
            if (outcome->already_archived) {
                *reply_message = fmt::format("\"{}\" was already archived with identical content",
                                             request.wal_name);
                Log(LogLevel::info, "{}", *reply_message);
            } else {
                *reply_message = fmt::format("archived \"{}\" ({} -> {} bytes, {:.1f} ms)",
                                             request.wal_name, outcome->original_size,
                                             outcome->stored_size, ElapsedMs(start));
                Log(LogLevel::info, "{}", *reply_message);
            }
            return Status::Ok();
        }
        case wire::MessageType::backup_begin:
        case wire::MessageType::backup_attach:
        case wire::MessageType::backup_copy:
        case wire::MessageType::backup_stop:
        case wire::MessageType::backup_cancel:
        case wire::MessageType::catalog_query:
            if (!frame.fds.empty()) return Status(ErrorKind::protocol, "backup requests take no file descriptor");
            return DispatchBackup(frame, connection, session, reply_message);
        case wire::MessageType::command: {
            if (!frame.fds.empty()) return Status(ErrorKind::protocol, "commands take no file descriptor");
            wire::CommandRequest request;
            wire::DecodeResult decoded =
                wire::DecodeCommand(frame.payload.data(), frame.payload.size(), &request);
            if (decoded != wire::DecodeResult::ok) return DecodeError(decoded);
            auto row = std::make_unique<wire::RowRecord>(); /* 8 KB: not on the stack */
            std::vector<uint8_t> buffer(wire::kMaxPayload);
            auto emit = [&](const std::vector<std::string> &columns) -> Status {
                *row = wire::RowRecord();
                row->count = static_cast<uint32_t>(std::min(columns.size(), wire::kMaxColumns));
                for (uint32_t i = 0; i < row->count; i++)
                    snprintf(row->columns[i], sizeof row->columns[i], "%s", columns[i].c_str());
                size_t size = wire::EncodeRowRecord(*row, buffer.data(), buffer.size());
                if (size == 0) return Status(ErrorKind::internal, "row too large");
                return WriteFrame(connection, wire::MessageType::row_record, frame.header.request_id,
                                  buffer.data(), size, -1, kReplyTimeoutMs);
            };
            return commands_.Run(request, emit, reply_message);
        }
        case wire::MessageType::reply:
        case wire::MessageType::backup_record:
        case wire::MessageType::row_record:
            break;
    }
    return Status(ErrorKind::protocol, "unexpected message type from a client");
}

Status Server::DispatchBackup(ReceivedFrame &frame, int connection,
                              std::shared_ptr<BackupJob> *session, std::string *reply_message) {
    const uint8_t *payload = frame.payload.data();
    size_t length = frame.payload.size();
    auto need_session = [&](bool want) {
        if ((*session != nullptr) == want) return Status::Ok();
        return Status(ErrorKind::protocol, want ? "no backup is in progress on this connection"
                                                : "a backup is already in progress on this connection");
    };
    wire::DecodeResult decoded;
    switch (frame.header.type) {
        case wire::MessageType::backup_begin: {
            wire::BackupBeginRequest request;
            if ((decoded = wire::DecodeBackupBegin(payload, length, &request)) != wire::DecodeResult::ok)
                return DecodeError(decoded);
            PG_ARK_RETURN_IF_ERROR(need_session(false));
            auto job = backups_.Begin(request);
            if (!job.ok()) return job.status();
            *reply_message = BackupService::BackupIdOf(**job);
            if (!request.detached) *session = *job;
            return Status::Ok();
        }
        case wire::MessageType::backup_attach: {
            wire::BackupRef request;
            if ((decoded = wire::DecodeBackupRef(payload, length, &request)) != wire::DecodeResult::ok)
                return DecodeError(decoded);
            PG_ARK_RETURN_IF_ERROR(need_session(false));
            auto job = backups_.Attach(request);
            if (!job.ok()) return job.status();
            *reply_message = BackupService::LabelOf(**job); /* the worker passes it to PostgreSQL */
            *session = *job;
            return Status::Ok();
        }
        case wire::MessageType::backup_copy: {
            wire::BackupCopyRequest request;
            if ((decoded = wire::DecodeBackupCopy(payload, length, &request)) != wire::DecodeResult::ok)
                return DecodeError(decoded);
            PG_ARK_RETURN_IF_ERROR(need_session(true));
            return backups_.Copy(**session, request, connection, reply_message);
        }
        case wire::MessageType::backup_stop: {
            auto request = std::make_unique<wire::BackupStopRequest>(); /* 15 KB: not on the stack */
            if ((decoded = wire::DecodeBackupStop(payload, length, request.get())) != wire::DecodeResult::ok)
                return DecodeError(decoded);
            PG_ARK_RETURN_IF_ERROR(need_session(true));
            PG_ARK_RETURN_IF_ERROR(backups_.Stop(**session, *request, connection));
            *reply_message = BackupService::BackupIdOf(**session);
            session->reset();
            return Status::Ok();
        }
        case wire::MessageType::backup_cancel: {
            wire::BackupRef request;
            if ((decoded = wire::DecodeBackupRef(payload, length, &request)) != wire::DecodeResult::ok)
                return DecodeError(decoded);
            PG_ARK_RETURN_IF_ERROR(backups_.Cancel(request));
            *reply_message = fmt::format("backup {} cancelled", request.backup_id);
            return Status::Ok();
        }
        case wire::MessageType::catalog_query: {
            wire::CatalogQuery request;
            if ((decoded = wire::DecodeCatalogQuery(payload, length, &request)) != wire::DecodeResult::ok)
                return DecodeError(decoded);
            auto records = backups_.Query(request);
            if (!records.ok()) return records.status();
            std::vector<uint8_t> buffer(wire::kMaxPayload);
            for (const wire::BackupRecord &record : *records) {
                size_t size = wire::EncodeBackupRecord(record, buffer.data(), buffer.size());
                if (size == 0) return Status(ErrorKind::internal, "backup record too large");
                PG_ARK_RETURN_IF_ERROR(WriteFrame(connection, wire::MessageType::backup_record,
                                                  frame.header.request_id, buffer.data(), size, -1,
                                                  kReplyTimeoutMs));
            }
            *reply_message = fmt::format("{} backup(s)", records->size());
            return Status::Ok();
        }
        default:
            break;
    }
    return Status(ErrorKind::protocol, "unexpected message type from a client");
}

namespace {
Server *signalled_server = nullptr;
void HandleStopSignal(int) {
    if (signalled_server != nullptr) signalled_server->Stop();
}
}  // namespace

Status RunServerUntilSignalled(Config config) {
    auto storage = OpenRepositoryStorage(config);
    if (!storage.ok()) return storage.status();
    Server server(std::move(config), std::move(*storage));
    PG_ARK_RETURN_IF_ERROR(server.Listen());
    signalled_server = &server;
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = HandleStopSignal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN); /* configuration is read at start; restart to change it */
    Status status = server.Serve();
    signalled_server = nullptr;
    return status;
}

}  // namespace pg_ark
