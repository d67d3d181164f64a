package smtpwire

import (
	"crypto/hmac"
	"crypto/sha256"
)

// ExchangeAuthResponse is the answer to an X-EXPS challenge (the frontend and the hub's send
// side compute it, the hub's receive side checks it) under exlab's ExchangeServer
// authentication: HMAC-SHA256(key, challenge). Exchange uses Kerberos here; spec §6.1 leaves
// the proof to exlab, and a shared organization key keeps anonymous clients from posing as a
// server.
func ExchangeAuthResponse(key, challenge []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(challenge)
	return m.Sum(nil)
}
