package app

// Proof that the program on the bridge's port is this user's bridge,
// before a client sends it the control secret. With the machine
// certificate, every local account can read the leaf key (certs/machine.go),
// so a certificate that verifies no longer tells a user's tray that the
// port is held by their own bridge: another account's program, started
// first, could present it and collect the secret. So Attach first asks
// GET /api/proof with a fresh nonce, and sends the secret only to a server
// that answers HMAC-SHA256(sha256(secret), nonce), which only a holder of
// the secret can compute. The answer reveals nothing usable: the nonce is
// the client's, fresh each time.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
)

const (
	proofPath         = "/api/proof"
	proofNonceHeader  = "X-Orion-Nonce"
	proofAnswerHeader = "X-Orion-Proof"
	proofNonceBytes   = 32
)

// proof is HMAC-SHA256 keyed by the secret's hash, which is all the bridge
// keeps of it.
func proof(secretHash [32]byte, nonce []byte) []byte {
	m := hmac.New(sha256.New, secretHash[:])
	m.Write(nonce)
	return m.Sum(nil)
}

// serveProof answers a proof request; it needs no secret.
func (c *controlAPI) serveProof(w http.ResponseWriter, r *http.Request) {
	nonce, err := hex.DecodeString(r.Header.Get(proofNonceHeader))
	if err != nil || len(nonce) != proofNonceBytes {
		http.Error(w, fmt.Sprintf("400 Bad Request: send %d random bytes in hex as %s", proofNonceBytes, proofNonceHeader), http.StatusBadRequest)
		return
	}
	w.Header().Set(proofAnswerHeader, hex.EncodeToString(proof(c.secret, nonce)))
	w.WriteHeader(http.StatusNoContent)
}

// errNotOurBridge: the port's server could not prove it holds the secret.
var errNotOurBridge = errors.New("the program on this port is not your Orion Bridge: it cannot prove it knows your control secret, so the secret was not sent (another program, perhaps another user's, holds the port)")

// checkProof asks the server on r.base to prove it knows secret.
func (r *Remote) checkProof(secret string) error {
	nonce := make([]byte, proofNonceBytes)
	rand.Read(nonce)
	req, err := http.NewRequest(http.MethodGet, r.base+proofPath, nil)
	if err != nil {
		return err
	}
	req.Header.Set(proofNonceHeader, hex.EncodeToString(nonce))
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	got, err := hex.DecodeString(resp.Header.Get(proofAnswerHeader))
	if err != nil || !hmac.Equal(got, proof(sha256.Sum256([]byte(secret)), nonce)) {
		return errNotOurBridge
	}
	return nil
}
