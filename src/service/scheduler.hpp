#pragma once

// Fires the schedules in deployed functions' manifests (`triggers`).
//
// One thread per node computes every trigger's next due time and sleeps
// until the earliest (or until the function table changes). At a due time
// it claims the firing in the store — exactly one node wins each due time
// — and the winner queues it as a task with trigger "cron", which the task
// runners then run like any async call (retries, dead, record).
//
// Missed firings: a trigger is first seen when its function is deployed or
// the node starts. With `missed: skip` it waits for its next due time; with
// `catch_up` it fires once at start if a due time passed since its last
// claimed firing (one firing for the whole gap, not one per missed time).
// A node that oversleeps a due time (a busy machine) fires it late rather
// than never, then resumes at the next due time after now.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "core/schedule.hpp"

namespace nebula::service {

class FunctionService;
class TaskRunner;

class Scheduler {
 public:
  // Starts the thread; `service` must outlive the scheduler.
  explicit Scheduler(FunctionService& service);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // The function table changed: look again.
  void wake();

 private:
  struct Armed {
    std::uint64_t version = 0;
    std::int64_t next_due_us = 0;
  };
  void loop();
  // Brings `armed_` in line with the table and fires what is due; returns
  // the earliest next due time (unix µs), or INT64_MAX when none.
  std::int64_t tick();

  FunctionService& service_;
  std::map<std::string, Armed> armed_;      // by function + '\n' + trigger key; loop thread only
  std::map<std::string, Schedule> parsed_;  // by schedule text; loop thread only
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;        // guarded by mutex_
  std::uint64_t rings_ = 0;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace nebula::service
