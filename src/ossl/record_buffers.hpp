// OpenSSL's record buffers, recycled. With SSL_MODE_RELEASE_BUFFERS (which keeps an idle TLS
// connection small) every record read or written takes a ~17 KB buffer and gives it back; at
// thousands of connections that churn went through malloc's large bins on every record.
#pragma once

#include <cstddef>

namespace mxtls::ossl {

// Makes OpenSSL allocate through functions that keep a few freed record-sized buffers per
// thread for the next one; everything else goes to malloc as before. Must run before any other
// OpenSSL call (first thing in main); false when OpenSSL has already allocated.
bool install_record_buffer_pool();

// Allocations between these sizes are served from the pool, rounded up to the larger.
constexpr std::size_t pooled_min_bytes = 16 * 1024;
constexpr std::size_t pooled_block_bytes = 20 * 1024;
// Freed blocks kept per thread: a connection holds its buffers only while a record is in
// hand, so a few cover a whole scan, and an idle scan keeps at most this many.
constexpr std::size_t pooled_blocks_kept = 32;

// The pool's own allocation functions, for tests (they work without the installation).
void* pooled_allocate(std::size_t size);
void pooled_release(void* block);
std::size_t pooled_blocks_cached();  // on this thread

}  // namespace mxtls::ossl
