// Received: parser on real-world header shapes (Gmail, Postfix, Exim, Microsoft, Sendmail,
// qmail), folding, nested comments, malformed and oversized input; and the hop reports.
#include "mail/hops_report.hpp"
#include "mail/received.hpp"
#include "report/utf8.hpp"
#include "unit/mail/mail_samples_dir.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

namespace {

using namespace mxtls::mail;

std::string read_sample(const std::string& name) {
  std::ifstream in(std::string(MXTLS_MAIL_SAMPLES_DIR) + "/" + name, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "sample missing: " << name);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool valid_utf8(std::string_view s) { return mxtls::report::sanitize_utf8(s) == s; }

}  // namespace

TEST_SUITE("mail") {

TEST_CASE("received: Gmail with version=TLS1_3 cipher=… bits=256/256") {
  const auto hop = parse_received(
      "from mail.sender.test (mail.sender.test. [192.0.2.40])\r\n"
      "        by mx.google.com with ESMTPS id a1-20020a170902c10100b001c0cb2f7d1asi1234567plc.123\r\n"
      "        for <taro@example.test>\r\n"
      "        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n"
      "        Sun, 22 Nov 2026 03:12:45 -0800 (PST)");
  CHECK(hop.from == "mail.sender.test");
  CHECK(hop.from_address == "192.0.2.40");
  CHECK(hop.by == "mx.google.com");
  CHECK(hop.protocol == "ESMTPS");
  CHECK(hop.id == "a1-20020a170902c10100b001c0cb2f7d1asi1234567plc.123");
  CHECK(hop.for_address == "<taro@example.test>");
  CHECK(hop.tls_version == "TLSv1.3");
  CHECK(hop.cipher == "TLS_AES_256_GCM_SHA384");
  CHECK(hop.cipher_bits == 256);
  CHECK(hop.encrypted == Encryption::yes);
  CHECK(hop.date == "Sun, 22 Nov 2026 03:12:45 -0800 (PST)");
  CHECK_FALSE(hop.malformed);
  CHECK_FALSE(hop.local);
}

TEST_CASE("received: old Gmail shapes from the seed articles (TLSv1 / TLS1, RC4-SHA, AES128-SHA)") {
  auto hop = parse_received(
      "from www1234.sakura.test (www1234.sakura.test. [IPv6:::1]) by mx.google.com with ESMTPS id x "
      "for <a@b.test> (version=TLSv1 cipher=RC4-SHA bits=128/128); Tue, 1 Jan 2013 00:00:00 -0800 (PST)");
  CHECK(hop.tls_version == "TLSv1");
  CHECK(hop.cipher == "RC4-SHA");
  CHECK(hop.cipher_bits == 128);
  CHECK(hop.from_address == "::1");
  hop = parse_received(
      "from x.test (x.test [127.0.0.9]) by mx.google.com with ESMTPS id qf3si568403igb.48.2016.03.10.18.18.51 "
      "for <a@gmail.test> (version=TLS1 cipher=AES128-SHA bits=128/128); Thu, 10 Mar 2016 18:18:51 -0800 (PST)");
  CHECK(hop.tls_version == "TLSv1");
  CHECK(hop.cipher == "AES128-SHA");
  CHECK(hop.encrypted == Encryption::yes);
}

TEST_CASE("received: Postfix smtpd_tls_received_header with nested comments") {
  const auto hop = parse_received(
      "from mail.sender.test (mail.sender.test [192.0.2.40])\r\n"
      "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\r\n"
      "\t key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256)\r\n"
      "\t(No client certificate requested)\r\n"
      "\tby mx.example.test (Postfix) with ESMTPS id 4N0abc1234z9\r\n"
      "\tfor <hanako@example.test>; Sun, 22 Nov 2026 20:30:00 +0900 (JST)");
  CHECK(hop.from == "mail.sender.test");
  CHECK(hop.from_detail == "mail.sender.test [192.0.2.40]");
  CHECK(hop.from_address == "192.0.2.40");
  CHECK(hop.by == "mx.example.test");
  CHECK(hop.by_detail == "Postfix");
  CHECK(hop.tls_version == "TLSv1.3");
  CHECK(hop.cipher == "TLS_AES_256_GCM_SHA384");
  CHECK(hop.cipher_bits == 256);  // not the 2048 of the server signature
  CHECK(hop.group == "X25519");
  CHECK(hop.encrypted == Encryption::yes);
  CHECK_FALSE(hop.local);
  CHECK(hop.date == "Sun, 22 Nov 2026 20:30:00 +0900 (JST)");
}

TEST_CASE("received: Postfix 2.x TLSv1 shape and plain ESMTP") {
  auto hop = parse_received(
      "from a.test (a.test [192.0.2.1]) (using TLSv1 with cipher AES256-SHA (256/256 bits)) "
      "(No client certificate requested) by b.test (Postfix) with ESMTP id 1; Mon, 1 Jan 2018 00:00:00 +0900");
  CHECK(hop.tls_version == "TLSv1");
  CHECK(hop.cipher == "AES256-SHA");
  CHECK(hop.encrypted == Encryption::yes);  // the TLS comment wins over the keyword
  hop = parse_received("from app01.sender.test (app01.sender.test [192.0.2.42])\r\n\tby relay.sender.test (Postfix) "
                       "with ESMTP id 9F00A2B3C\r\n\tfor <taro@example.test>; Sun, 22 Nov 2026 20:12:42 +0900 (JST)");
  CHECK(hop.protocol == "ESMTP");
  CHECK(hop.encrypted == Encryption::no);
  CHECK(hop.tls_version.empty());
  CHECK_FALSE(hop.local);
  hop = parse_received("from x.test (x.test [192.0.2.3]) by y.test with SMTP id 7; Mon, 1 Jan 2018 00:00:00 +0000");
  CHECK(hop.encrypted == Encryption::no);
}

TEST_CASE("received: Exim (TLS1.3) tls CIPHER and the older (TLS1.2:CIPHER:BITS)") {
  auto hop = parse_received(
      "from mail.sender.test ([192.0.2.7] helo=mail.sender.test)\r\n\tby mx.example.test with esmtps  (TLS1.3) "
      "tls TLS_AES_256_GCM_SHA384\r\n\t(Exim 4.96)\r\n\t(envelope-from <a@sender.test>)\r\n\tid 1r5XyZ-000Abc-2Q\r\n"
      "\tfor b@example.test; Sun, 22 Nov 2026 11:00:00 +0000");
  CHECK(hop.from == "mail.sender.test");
  CHECK(hop.from_address == "192.0.2.7");
  CHECK(hop.with == "esmtps");
  CHECK(hop.protocol == "ESMTPS");
  CHECK(hop.tls_version == "TLSv1.3");
  CHECK(hop.cipher == "TLS_AES_256_GCM_SHA384");
  CHECK(hop.id == "1r5XyZ-000Abc-2Q");
  CHECK(hop.encrypted == Encryption::yes);

  hop = parse_received(
      "from mail.sender.test ([192.0.2.8]) by mx.example.test with esmtps "
      "(TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256) (Exim 4.89) (envelope-from <a@sender.test>) id 1aBcDe-0001xY-Qz "
      "for b@example.test; Mon, 01 Jan 2018 00:00:00 +0000");
  CHECK(hop.tls_version == "TLSv1.2");
  CHECK(hop.cipher == "ECDHE-RSA-AES256-GCM-SHA384");
  CHECK(hop.cipher_bits == 256);

  hop = parse_received("from x by y.test with esmtp (Exim 4.96) id 1; Mon, 01 Jan 2018 00:00:00 +0000");
  CHECK(hop.encrypted == Encryption::no);
  hop = parse_received("from user by y.test with local (Exim 4.96) id 1; Mon, 01 Jan 2018 00:00:00 +0000");
  CHECK(hop.local);
  CHECK(hop.protocol == "LOCAL");
}

TEST_CASE("received: Microsoft SMTP Server with and without TLS") {
  auto hop = parse_received(
      "from TYAPR01MB1234.jpnprd01.prod.outlook.test (2603:1096:404:8033::16) by "
      "TYCPR01MB5678.jpnprd01.prod.outlook.test (2603:1096:400:1::9) with Microsoft SMTP Server "
      "(version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.7113.22; "
      "Sun, 22 Nov 2026 11:00:00 +0000");
  CHECK(hop.from == "TYAPR01MB1234.jpnprd01.prod.outlook.test");
  CHECK(hop.from_address == "2603:1096:404:8033::16");
  CHECK(hop.with == "Microsoft SMTP Server");
  CHECK(hop.tls_version == "TLSv1.2");
  CHECK(hop.cipher == "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384");
  CHECK(hop.id == "15.20.7113.22");
  CHECK(hop.encrypted == Encryption::yes);

  hop = parse_received("from EX01.corp.test (192.0.2.20) by EX02.corp.test (192.0.2.21) with Microsoft SMTP Server "
                       "id 15.1.2507.6; Sun, 22 Nov 2026 11:00:00 +0000");
  CHECK(hop.encrypted == Encryption::no);
  CHECK(hop.evidence.find("Microsoft") != std::string::npos);
}

TEST_CASE("received: Sendmail with verify=NOT, and its local submission") {
  auto hop = parse_received(
      "from mail.sender.test (mail.sender.test [192.0.2.30])\r\n\tby mx.example.test (8.17.1/8.17.1) with ESMTPS "
      "id 2AMB0ABC012345\r\n\t(version=TLSv1.3 cipher=TLS_AES_256_GCM_SHA384 bits=256 verify=NOT)\r\n"
      "\tfor <c@example.test>; Sun, 22 Nov 2026 20:00:00 +0900");
  CHECK(hop.tls_version == "TLSv1.3");
  CHECK(hop.cipher == "TLS_AES_256_GCM_SHA384");
  CHECK(hop.cipher_bits == 256);
  CHECK(hop.by_detail == "8.17.1/8.17.1");
  CHECK(hop.encrypted == Encryption::yes);

  hop = parse_received("(from user@localhost)\r\n\tby host.sender.test (8.17.1/8.17.1/Submit) id 2AMB0A; "
                       "Sun, 22 Nov 2026 20:00:00 +0900");
  CHECK(hop.local);
  CHECK_FALSE(hop.malformed);
}

TEST_CASE("received: ESMTPSA, LMTP, Postfix pickup, Gmail's internal hop, qmail") {
  auto hop = parse_received("from [192.0.2.43] (unknown [192.0.2.43]) (Authenticated sender: h@sender.test) by "
                            "mail.sender.test (Postfix) with ESMTPSA id 4N0; Sun, 22 Nov 2026 20:29:59 +0900");
  CHECK(hop.protocol == "ESMTPSA");
  CHECK(hop.from == "[192.0.2.43]");
  CHECK(hop.from_address == "192.0.2.43");
  CHECK(hop.encrypted == Encryption::yes);

  hop = parse_received("from mx.example.test by mx.example.test with LMTP id abc (envelope-from <a@b.test>) "
                       "for <c@example.test>; Sun, 22 Nov 2026 20:30:01 +0900");
  CHECK(hop.local);
  CHECK(hop.encrypted == Encryption::no);

  hop = parse_received("by app01.sender.test (Postfix, from userid 48) id 1234567; Sun, 22 Nov 2026 20:12:42 +0900");
  CHECK(hop.local);
  CHECK(hop.by == "app01.sender.test");

  hop = parse_received("by 2002:a05:6a10:8e0c:b0:4f5:3c41:7f05 with SMTP id x12csp123456pxi; Sun, 22 Nov 2026");
  CHECK(hop.local);  // no "from": the message did not arrive over a connection here

  hop = parse_received("from localhost (localhost [127.0.0.1]) by mx.example.test (Postfix) with ESMTP id 5; now");
  CHECK(hop.local);  // a content filter re-injecting on loopback
  CHECK(hop.encrypted == Encryption::no);

  hop = parse_received("(qmail 12345 invoked by uid 1000); 22 Nov 2026 11:00:00 -0000");
  CHECK(hop.local);
  hop = parse_received("from unknown (HELO x.test) (192.0.2.5) by y.test with SMTP; 22 Nov 2026 11:00:00 -0000");
  CHECK(hop.encrypted == Encryption::no);
  hop = parse_received("from x.test (x.test [192.0.2.5]) by y.test with HTTP; 22 Nov 2026 11:00:00 -0000");
  CHECK(hop.encrypted == Encryption::unknown);
  CHECK_FALSE(hop.local);
}

TEST_CASE("received: malformed and truncated headers never crash and stay unknown") {
  auto hop = parse_received("from x.test (unbalanced [192.0.2.1] by y.test with ESMTP");
  CHECK(hop.malformed);
  CHECK(hop.from == "x.test");
  hop = parse_received(")))) from ((((");
  CHECK(hop.malformed);
  hop = parse_received("");
  CHECK(hop.malformed);
  CHECK(hop.encrypted == Encryption::unknown);
  hop = parse_received("complete garbage \x01\x02\xff; date");
  CHECK(hop.malformed);
  CHECK(hop.encrypted == Encryption::unknown);
  hop = parse_received("from x.test (using");  // cut mid-comment
  CHECK(hop.malformed);
  CHECK(hop.tls_version.empty());
  hop = parse_received("from x.test by y.test with ESMTPS (version=");  // cut after the key
  CHECK(hop.encrypted == Encryption::yes);
  std::string deep(100000, '(');
  hop = parse_received("from x.test " + deep);
  CHECK(hop.malformed);
  CHECK(hop.from == "x.test");
}

TEST_CASE("received: TLS version names normalised to OpenSSL's") {
  CHECK(normalize_tls_version("TLS1_3") == "TLSv1.3");
  CHECK(normalize_tls_version("TLSv1.2") == "TLSv1.2");
  CHECK(normalize_tls_version("TLS1.2") == "TLSv1.2");
  CHECK(normalize_tls_version("tls1_1") == "TLSv1.1");
  CHECK(normalize_tls_version("TLS1") == "TLSv1");
  CHECK(normalize_tls_version("TLSv1.0") == "TLSv1");
  CHECK(normalize_tls_version("SSLv3") == "SSLv3");
  CHECK(normalize_tls_version("weird") == "weird");
}

TEST_CASE("headers: folded headers unfolded, hops reversed to sender first") {
  const auto parsed = parse_headers(read_sample("gmail_cleartext_hop.eml"));
  CHECK(parsed.complete);
  CHECK_FALSE(parsed.capped);
  REQUIRE(parsed.hops.size() == 5);
  CHECK(parsed.hops[0].by == "app01.sender.test");  // Postfix pickup: the oldest, at the bottom
  CHECK(parsed.hops[0].local);
  CHECK(parsed.hops[1].by == "relay.sender.test");
  CHECK(parsed.hops[1].encrypted == Encryption::no);
  CHECK(parsed.hops[2].protocol == "ESMTPS");
  CHECK(parsed.hops[3].by == "mx.google.com");
  CHECK(parsed.hops[3].tls_version == "TLSv1.3");
  CHECK(parsed.hops[4].local);  // Gmail's internal "by 2002:… with SMTP"
  const auto summary = summarize(parsed.hops);
  CHECK(summary.total == 5);
  CHECK(summary.local == 2);  // Postfix pickup and Gmail's internal hop
  CHECK(summary.encrypted == 2);
  CHECK(summary.cleartext == 1);
  CHECK_FALSE(summary.all_encrypted());

  const auto all_tls = parse_headers(read_sample("postfix_all_tls.eml"));
  REQUIRE(all_tls.hops.size() == 2);
  CHECK(all_tls.hops[0].protocol == "ESMTPSA");
  CHECK(all_tls.hops[1].group == "X25519");
  CHECK(summarize(all_tls.hops).all_encrypted());
}

TEST_CASE("headers: LF-only input, mbox From line, continuation before any field, no blank line") {
  auto parsed = parse_headers("From someone Sun Nov 22 00:00:00 2026\n"
                              " stray continuation\n"
                              "Received: from a.test (a.test [192.0.2.1])\n by b.test with ESMTP id 1; now\n"
                              "not a header line\n"
                              "Subject: x\n");
  CHECK_FALSE(parsed.complete);
  REQUIRE(parsed.hops.size() == 1);
  CHECK(parsed.hops[0].by == "b.test");
  CHECK(parsed.fields.size() == 2);
  CHECK(parsed.notes.size() == 2);  // no header end; 2 lines skipped
}

TEST_CASE("headers: caps on field count, field length, section size and hop count") {
  HeaderLimits limits;
  limits.max_headers = 10;
  std::string many;
  for (int i = 0; i < 50; ++i) many += "X-Filler: " + std::to_string(i) + "\r\n";
  many += "\r\nbody";
  auto parsed = parse_headers(many, limits);
  CHECK(parsed.capped);
  CHECK(parsed.fields.size() == 10);

  limits = {};
  limits.max_header_bytes = 100;
  parsed = parse_headers("Received: from a (" + std::string(5000, 'x') + "\r\n " + std::string(5000, 'y') +
                             "\r\n\r\n",
                         limits);
  CHECK(parsed.capped);
  REQUIRE(parsed.fields.size() == 1);
  CHECK(parsed.fields[0].value.size() <= 100);

  limits = {};
  limits.max_section_bytes = 1000;
  std::string huge;
  while (huge.size() < 5000) huge += "Received: from a.test by b.test with ESMTP; now\r\n";
  parsed = parse_headers(huge, limits);
  CHECK(parsed.capped);
  CHECK(parsed.section_bytes <= 1000);
  CHECK_FALSE(parsed.hops.empty());

  limits = {};
  limits.max_received = 3;
  parsed = parse_headers(huge + "\r\n", limits);
  CHECK(parsed.hops.size() == 3);
  CHECK(parsed.capped);
}

TEST_CASE("hops report: text is terminal-safe and JSON valid UTF-8 for CJK and hostile bytes") {
  std::string message =
      "Received: from \xe4\xbe\x8b\xe3\x81\x88.test (\x1b[31mred\x1b[0m [192.0.2.1]) by mx.test with ESMTP id \xff\xfe; now\r\n"
      "Subject: =?UTF-8?B?5pqX5Y+35YyW?=\r\n\r\n";
  const auto parsed = parse_headers(message);
  REQUIRE(parsed.hops.size() == 1);
  const std::string text = headers_report_text(parsed, "sample.eml", false);
  CHECK(text.find("\x1b") == std::string::npos);
  CHECK(valid_utf8(text));
  CHECK(text.find("\xe4\xbe\x8b\xe3\x81\x88.test") != std::string::npos);  // CJK shown as is
  CHECK(text.find("CLEARTEXT") != std::string::npos);
  CHECK(text.find("smtp_tls_security_level = may") != std::string::npos);
  CHECK(text.find("smtp_use_tls = yes") != std::string::npos);
  CHECK(text.find("smtp_tls_loglevel = 1") != std::string::npos);
  CHECK(text.find("confCLIENT_CERT") != std::string::npos);
  CHECK(text.find("hosts_try_tls") != std::string::npos);

  const std::string json = headers_report_json(parsed, "sample.eml");
  CHECK(valid_utf8(json));
  CHECK(json.find("\"record\":\"headers\"") != std::string::npos);
  CHECK(json.find("\"cleartext_hops\":1") != std::string::npos);
  CHECK(json.find("\"all_encrypted\":false") != std::string::npos);
  CHECK(json.find("\\u001b") != std::string::npos);
  CHECK(json.find('\x1b') == std::string::npos);
}

TEST_CASE("hops report: an all-TLS message has a green verdict and no fix") {
  const auto parsed = parse_headers(read_sample("postfix_all_tls.eml"));
  const std::string text = headers_report_text(parsed, "postfix_all_tls.eml", false);
  CHECK(text.find("every hop on the network used TLS (2 of 2)") != std::string::npos);
  CHECK(text.find("smtp_tls_security_level") == std::string::npos);
  CHECK(text.find("TLSv1.3, TLS_AES_256_GCM_SHA384, 256 bits, key exchange X25519") != std::string::npos);
  const std::string json = hops_json(parsed.hops);
  CHECK(json.rfind("[{\"hop\":1,", 0) == 0);
  CHECK(json.find("\"tls_version\":\"TLSv1.3\"") != std::string::npos);
  CHECK(json.find("\"encrypted\":\"yes\"") != std::string::npos);
}

}  // TEST_SUITE
