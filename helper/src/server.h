/*
 * server.h
 *     `pg_ark server`: answers requests from PostgreSQL on a Unix socket.
 *
 * The socket lives in a directory of mode 0700. Each connection's peer credentials (SO_PEERCRED)
 * are checked before its first frame: only the owners of the configured data directories, the
 * helper's own user and the config's allowed-users are served. Each connection gets a thread,
 * up to kMaxConnections; the dispatcher is the only place that catches everything, so no request
 * can take the daemon down. Alongside, a WalShipper stores .ready WAL ahead of the archiver; an
 * archive request for a file it stored is acknowledged without storing it again. Stop() (or
 * SIGTERM via RunServerUntilSignalled) stops accepting, lets requests in flight finish, stops the
 * shipper, and removes the socket.
 */
#ifndef PG_ARK_HELPER_SERVER_H
#define PG_ARK_HELPER_SERVER_H

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "backup_service.h"
#include "command_service.h"
#include "config.h"
#include "repository.h"
#include "status.h"
#include "unique_fd.h"
#include "wal_shipper.h"
#include "wal_store.h"

namespace pg_ark {

class Server {
  public:
    static constexpr int kMaxConnections = 64;

    /* storage: the repository's (storage_factory.h); without it, posix at repo-path (tests). */
    explicit Server(Config config);
    Server(Config config, std::unique_ptr<Storage> storage);
    ~Server();
    Server(const Server &) = delete;
    Server &operator=(const Server &) = delete;

    /* Creates the socket directory and binds; fails if another server answers on the socket. */
    Status Listen();
    /* Accepts connections until Stop() is called; returns when every connection has ended. */
    Status Serve();
    /* Safe from any thread and from a signal handler. */
    void Stop();

  private:
    void HandleConnection(UniqueFd connection);
    bool PeerAllowed(int connection, std::string *who);
    /* Handles one request; *session is the connection's backup session, if any. */
    Status Dispatch(struct ReceivedFrame &frame, int connection, std::shared_ptr<BackupJob> *session,
                    std::string *reply_message);
    Status DispatchBackup(struct ReceivedFrame &frame, int connection,
                          std::shared_ptr<BackupJob> *session, std::string *reply_message);

    Config config_;
    Repository repository_;
    WalStore wal_store_;
    WalShipper shipper_;
    BackupService backups_;
    CommandService commands_;
    std::set<uid_t> allowed_uids_;
    UniqueFd listener_;
    UniqueFd stop_pipe_read_;
    UniqueFd stop_pipe_write_;
    std::atomic<bool> stopping_{false};

    std::mutex mutex_;
    std::condition_variable connections_done_;
    std::set<int> active_connections_;  // guarded by mutex_
};

/* Runs a server until SIGTERM or SIGINT. */
Status RunServerUntilSignalled(Config config);

}  // namespace pg_ark

#endif
