// Package smtpwire holds what exlab's receive side (smtpreceive) and send side (smtpsend) both
// speak, so that neither has to reach into the other: the reply table generated from
// ../shared/spec/replies.tsv (typed ReplyIDs, Render, Fixed, FromRemote, ReplyFor), the
// encoding and parsing of exlab's intra-organization verbs (XPROXYFROM, XPROXYTO, xtext, the
// X-EXPS proof), the protocol-log line and its writer with Exchange's circular log files, and
// the GUID form of Exchange's log ids, and the RFC 2047 decoding and encoding of Subject fields
// (subject.go; its charsets from golang.org/x/text). It imports nothing of exlab's (mox keeps the same pieces
// in its small smtp package, mjl-/mox: smtp/doc.go).
//
// Exchange counterpart: none as a component; these are the formats Exchange's SmtpReceive and
// SmtpSend share (spec §5, §6.1, §7.1).
package smtpwire
