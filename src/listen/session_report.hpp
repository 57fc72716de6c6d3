// What `mxtls listen` prints for each session: a text block for the admin (the Gmail lock,
// the sender's TLS, every hop, the fix) and one JSON Lines record for machines.
#pragma once

#include "listen/receiver.hpp"

#include <string>

namespace mxtls::listen {

std::string session_text(const SessionReport& report, bool color);
// One record ("record":"listen_session") without the trailing newline.
std::string session_json(const SessionReport& report);

}  // namespace mxtls::listen
