#pragma once

// The threads that run queued tasks: async calls (?async=true) and schedule
// firings, from the store's durable queue.
//
// Each thread claims one due task at a time (the store guarantees each
// claim goes to one node and one thread), runs it through the function
// service like an HTTP call — the same admission, concurrency limit,
// secrets and record — and writes the outcome back: done, queued again
// with a backoff, or dead. A claim is a lease: a node that dies holding a
// task leaves it to be claimed again once the lease runs out, and a node
// that restarts takes its own back at once.
//
// Waking: a thread sleeps until the next task falls due (the store knows
// when), or until wake() says a task was queued here. With a shared store
// other nodes queue tasks too, so one thread also looks every `poll`. An
// idle server with an unshared store never wakes.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.hpp"

namespace nebula::service {

class FunctionService;

struct TaskRunnerOptions {
  std::string node;
  unsigned threads = 2;
  std::chrono::milliseconds poll{1000};
};

class TaskRunner {
 public:
  // Starts the threads. `service` must outlive the runner.
  TaskRunner(FunctionService& service, TaskRunnerOptions options);
  // Stops taking tasks and joins the threads (a running task finishes).
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // A task was queued (or fell due): look now.
  void wake();

 private:
  // One thread's life; the first also polls a shared store.
  void loop(bool first);
  // Runs one claimed task to its outcome and writes it back.
  void finish(store::AsyncTask& task);
  // How long a claim holds a task: the longest timeout of any deployed
  // function plus a margin, so that no live node's task is taken from it.
  [[nodiscard]] std::int64_t lease_us() const;

  FunctionService& service_;
  TaskRunnerOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;        // guarded by mutex_
  std::uint64_t rings_ = 0;  // guarded by mutex_; wake() calls so far
  std::vector<std::thread> threads_;
};

}  // namespace nebula::service
