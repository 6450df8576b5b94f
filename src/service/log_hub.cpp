#include "service/log_hub.hpp"

#include <vector>

namespace nebula::service {

LogHub::Subscription::~Subscription() {
  if (hub_ != nullptr) hub_->unfollow(id_);
}

LogHub::Subscription LogHub::follow(std::string function, Callback callback) {
  std::lock_guard lock(mutex_);
  const std::uint64_t id = next_id_++;
  followers_.emplace(
      id, Follower{std::move(function), std::make_shared<Callback>(std::move(callback))});
  return Subscription(this, id);
}

void LogHub::unfollow(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  followers_.erase(id);
}

void LogHub::publish(const InvocationRecord& record) {
  std::vector<std::shared_ptr<Callback>> targets;
  {
    std::lock_guard lock(mutex_);
    if (followers_.empty()) return;
    for (const auto& [id, follower] : followers_) {
      if (follower.function == record.function) targets.push_back(follower.callback);
    }
  }
  for (const auto& callback : targets) (*callback)(record);
}

std::size_t LogHub::followers() const {
  std::lock_guard lock(mutex_);
  return followers_.size();
}

}  // namespace nebula::service
