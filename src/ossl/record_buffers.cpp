// The record buffer pool behind install_record_buffer_pool(): a per-thread stack of freed
// blocks of one size. A block is recognised on free by its usable size, so no allocation
// carries a header and blocks may move between malloc and the pool freely.
#include "ossl/record_buffers.hpp"

#include <openssl/crypto.h>

#include <malloc.h>

#include <array>
#include <cstdlib>

namespace mxtls::ossl {
namespace {

struct Pool {
  std::array<void*, pooled_blocks_kept> blocks{};
  std::size_t count = 0;
  bool closed = false;  // the thread is ending: OpenSSL's last frees go straight to malloc
  ~Pool() {
    closed = true;
    while (count > 0) std::free(blocks[--count]);
  }
};

thread_local Pool pool;

// What malloc really gives for a pooled block; a freed block of exactly this usable size can
// serve any pooled request, wherever it came from.
std::size_t pooled_usable_bytes() {
  static const std::size_t usable = [] {
    void* probe = std::malloc(pooled_block_bytes);
    const std::size_t n = probe ? malloc_usable_size(probe) : 0;
    std::free(probe);
    return n;
  }();
  return usable;
}

void* pooled_malloc(std::size_t size, const char*, int) {
  return pooled_allocate(size);
}

void* pooled_realloc(void* block, std::size_t size, const char*, int) {
  return std::realloc(block, size);
}

void pooled_free(void* block, const char*, int) {
  pooled_release(block);
}

}  // namespace

void* pooled_allocate(std::size_t size) {
  if (size < pooled_min_bytes || size > pooled_block_bytes) return std::malloc(size);
  if (pool.count > 0 && !pool.closed) return pool.blocks[--pool.count];
  return std::malloc(pooled_block_bytes);
}

void pooled_release(void* block) {
  if (block != nullptr && !pool.closed && pool.count < pool.blocks.size() &&
      malloc_usable_size(block) == pooled_usable_bytes()) {
    pool.blocks[pool.count++] = block;
    return;
  }
  std::free(block);
}

std::size_t pooled_blocks_cached() {
  return pool.count;
}

bool install_record_buffer_pool() {
  pooled_usable_bytes();  // before OpenSSL runs, not inside its first allocation
  return CRYPTO_set_mem_functions(pooled_malloc, pooled_realloc, pooled_free) == 1;
}

}  // namespace mxtls::ossl
