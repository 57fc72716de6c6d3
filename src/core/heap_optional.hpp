// HeapOptional<T>: an optional whose value, once there, lives on the heap. Empty it is one
// pointer. For large parts of a result that only some results have (a probe's TLS facts): a
// bulk scan holds thousands of results that are still waiting for a banner.
#pragma once

#include <memory>
#include <optional>
#include <utility>

namespace mxtls {

template <class T>
class HeapOptional {
 public:
  HeapOptional() = default;
  HeapOptional(std::nullopt_t) {}
  HeapOptional(const T& value) : value_(std::make_unique<T>(value)) {}
  HeapOptional(T&& value) : value_(std::make_unique<T>(std::move(value))) {}
  HeapOptional(const HeapOptional& other) : value_(other.value_ ? std::make_unique<T>(*other.value_) : nullptr) {}
  HeapOptional(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(const HeapOptional& other) {
    if (this != &other) value_ = other.value_ ? std::make_unique<T>(*other.value_) : nullptr;
    return *this;
  }
  HeapOptional& operator=(HeapOptional&&) noexcept = default;
  HeapOptional& operator=(std::nullopt_t) {
    value_.reset();
    return *this;
  }
  HeapOptional& operator=(const T& value) { return assign(value); }
  HeapOptional& operator=(T&& value) { return assign(std::move(value)); }

  bool has_value() const { return value_ != nullptr; }
  explicit operator bool() const { return has_value(); }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }
  T* operator->() { return value_.get(); }
  const T* operator->() const { return value_.get(); }
  void reset() { value_.reset(); }
  template <class... Args>
  T& emplace(Args&&... args) {
    value_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *value_;
  }

  friend bool operator==(const HeapOptional& a, std::nullopt_t) { return !a.has_value(); }
  friend bool operator==(const HeapOptional& a, const HeapOptional& b) {
    return a.has_value() == b.has_value() && (!a.has_value() || *a == *b);
  }

 private:
  template <class U>
  HeapOptional& assign(U&& value) {
    if (value_) *value_ = std::forward<U>(value);
    else value_ = std::make_unique<T>(std::forward<U>(value));
    return *this;
  }
  std::unique_ptr<T> value_;
};

}  // namespace mxtls
