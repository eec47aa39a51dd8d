// Package certs creates, renews and serves the TLS certificate behind
// wss://localhost: a per-install local CA limited to localhost by X.509 name
// constraints, a short-lived leaf it signs, and the code that installs the CA
// into the trust stores browsers read (system, NSS, keychain, Windows Root).
package certs
