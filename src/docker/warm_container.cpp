#include "docker/warm_container.hpp"

#include "docker/cgroup.hpp"

namespace nebula::docker {
namespace {

// Enough of the watchdog's stderr to explain a failure.
constexpr std::size_t kMaxLogBytes = 4096;

void append_log(std::string& log, std::string_view data) {
  log.append(data);
  if (log.size() > kMaxLogBytes) log.erase(0, log.size() - kMaxLogBytes);
}

}  // namespace

Result<std::unique_ptr<WarmContainer>> WarmContainer::start(Client& client,
                                                            const ContainerSpec& spec,
                                                            const std::string& name,
                                                            std::string cgroup_root,
                                                            Clock::time_point deadline) {
  auto id = client.create_container(spec, name);
  if (!id) return std::move(id).error();

  // From here on a failure must not leave the container behind.
  auto fail = [&client, &id](Error error) -> Result<std::unique_ptr<WarmContainer>> {
    (void)client.remove(*id);
    return error;
  };

  auto stream = client.attach(*id);
  if (!stream) return fail(std::move(stream).error());
  if (Status started = client.start(*id); !started) return fail(std::move(started).error());

  std::unique_ptr<WarmContainer> container(
      new WarmContainer(client, *id, std::move(stream).value(), std::move(cgroup_root)));
  std::optional<std::string> ready;
  std::string error;
  auto end = container->stream_.exchange(
      {}, false,
      [&container, &ready, &error](StreamKind kind, std::string_view data) {
        return container->on_output(kind, data, watchdog::FrameType::kReady, ready, error);
      },
      deadline);
  if (!end) return fail(std::move(end).error());
  if (!ready) {
    std::string why = !error.empty()                           ? error
                      : *end == AttachedStream::End::kDeadline ? "it did not report ready in time"
                                                               : "it exited at once";
    if (!container->log_.empty()) why += "; its log: " + container->log_;
    container->stream_.close();
    return fail(make_error(ErrorKind::kInternal, "the watchdog in a warm container of " +
                                                     spec.image + " did not start: " + why));
  }

  // The init's host pid locates the container's cgroups: their counters
  // measure each request, and the OOM counter tells a memory kill from any
  // other SIGKILL.
  if (auto state = client.inspect_container(*id)) {
    container->cgroup_ = ContainerCgroup::of_pid(container->cgroup_root_, state->pid);
    if (container->cgroup_) container->oom_kills_ = container->cgroup_->oom_kills();
  }
  container->last_used = Clock::now();
  return container;
}

WarmContainer::WarmContainer(Client& client, std::string id, AttachedStream stream,
                             std::string cgroup_root)
    : client_(client),
      id_(std::move(id)),
      stream_(std::move(stream)),
      cgroup_root_(std::move(cgroup_root)) {}

WarmContainer::~WarmContainer() {
  (void)stop();
}

bool WarmContainer::stop() {
  if (stopped_) return true;
  stopped_ = true;
  healthy_ = false;
  stream_.close();
  // DELETE ?force=1 kills and removes in one call.
  return static_cast<bool>(client_.remove(id_));
}

std::optional<bool> WarmContainer::oom_kill_since_last_check() {
  if (!cgroup_) return std::nullopt;
  const std::optional<std::uint64_t> now = cgroup_->oom_kills();
  if (!now || !oom_kills_) return std::nullopt;
  const bool killed = *now > *oom_kills_;
  oom_kills_ = now;
  return killed;
}

bool WarmContainer::died_of_oom() {
  auto state = client_.inspect_container(id_);
  return state && state->oom_killed;
}

bool WarmContainer::on_output(StreamKind kind, std::string_view data, watchdog::FrameType wanted,
                              std::optional<std::string>& payload, std::string& error) {
  if (kind == StreamKind::kStderr) {
    append_log(log_, data);
    return true;
  }
  reader_.feed(data);
  for (;;) {
    auto next = reader_.next();
    if (!next) {
      error = next.error().message;
      return false;
    }
    if (!*next) return true;  // need more bytes
    auto type = watchdog::decode_type(**next);
    if (!type) {
      error = type.error().message;
      return false;
    }
    if (*type == wanted) {
      payload = std::move(*next);
      return false;
    }
    // A frame of another type here means the two sides disagree about the
    // conversation: the stream cannot be trusted.
    error = "unexpected watchdog frame type " + std::to_string(static_cast<int>(*type));
    return false;
  }
}

WarmContainer::Answer WarmContainer::call(const watchdog::Request& request,
                                          Clock::time_point deadline) {
  Answer answer;
  const std::string frame = watchdog::encode_request(request);
  std::optional<std::string> payload;
  std::string error;
  if (cgroup_) cgroup_->begin();
  auto end = stream_.exchange(
      frame, false,
      [this, &payload, &error](StreamKind kind, std::string_view data) {
        return on_output(kind, data, watchdog::FrameType::kResponse, payload, error);
      },
      deadline);
  if (cgroup_) answer.usage = cgroup_->end();

  if (end && *end == AttachedStream::End::kDeadline) {
    healthy_ = false;
    answer.end = End::kTimeout;
    return answer;
  }
  if (end && payload) {
    auto response = watchdog::decode_response(*payload);
    if (response) {
      answer.response = std::move(response).value();
      // Bytes past the response would be a protocol error; the watchdog
      // writes nothing between requests.
      if (reader_.buffered() != 0) healthy_ = false;
      return answer;
    }
    error = response.error().message;
  }
  healthy_ = false;
  answer.end = End::kBroken;
  if (!end) {
    answer.error = end.error().message;
  } else if (!error.empty()) {
    answer.error = error;
  } else {
    answer.error = "the watchdog exited without answering";
  }
  if (!log_.empty()) answer.error += "; its log: " + log_;
  return answer;
}

}  // namespace nebula::docker
