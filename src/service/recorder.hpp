#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/invoker.hpp"
#include "metrics/registry.hpp"
#include "store/store.hpp"

namespace nebula::service {

struct RecorderOptions {
  // A record is committed at most this long after its invocation ended
  // (plus the commit itself): the durability window.
  std::chrono::milliseconds max_delay{10};
  // A batch this large is committed at once, without waiting.
  std::size_t batch = 512;
  // Records waiting at most. While this many wait (the store is down or
  // slower than the invocations), backlogged() is true and the service
  // refuses new invocations with 503, so that memory stays bounded
  // whatever the store's pace.
  std::size_t max_waiting = 65'536;
  // How long flush() waits at most: a reader must not hang while the store
  // is unreachable.
  std::chrono::milliseconds max_flush_wait{2000};
  // Stamped into every record: the node that ran it.
  std::string node;
};

// What happens to every finished invocation: it is counted in the metrics
// at once, and its record is committed to the store by a writer thread in
// batches — one transaction for many records, off the path of the response.
//
// Durability: a record is committed within max_delay of its invocation's
// end (10 ms by default) plus the commit itself; a crash of the process
// loses at most the records of that window, and never leaves one
// half-written. Readers in this process see every record of an answered
// invocation: flush() waits for everything recorded so far, and the service
// calls it before it reads.
//
// A store that cannot be reached (kUnavailable) does not lose records: the
// batch goes back to the head of the queue and is retried with a backoff
// (50 ms doubling to 1 s) until the store answers; meanwhile records wait
// in memory, up to max_waiting.
//
// Thread-safe. The destructor commits what is waiting and joins the writer.
class Recorder {
 public:
  Recorder(store::Store& store, metrics::Registry& metrics, RecorderOptions options = {});
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  ~Recorder();

  void record(const Invocation& invocation);

  // Returns once every record handed to record() before the call is
  // committed (or failed, which is logged), or after max_flush_wait: false
  // then.
  bool flush();

  // True while max_waiting records wait for the store.
  [[nodiscard]] bool backlogged() const;
  [[nodiscard]] std::size_t waiting() const;

  // Records committed and waiting, for metrics and tests.
  [[nodiscard]] std::uint64_t committed() const;

 private:
  void write_loop();

  store::Store& store_;
  metrics::Registry& metrics_;
  RecorderOptions options_;

  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;   // records arrived, or stopping
  std::condition_variable done_;          // a batch was committed, or room freed
  std::deque<InvocationRecord> waiting_;  // guarded by mutex_
  std::uint64_t queued_ = 0;              // records ever queued; guarded by mutex_
  std::uint64_t written_ = 0;             // records ever written; guarded by mutex_
  std::size_t flushing_ = 0;              // callers waiting in flush(); guarded by mutex_
  bool stopping_ = false;                 // guarded by mutex_
  std::thread writer_;
};

}  // namespace nebula::service
