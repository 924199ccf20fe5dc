// Package crypto holds Bildbote's keys: age X25519 identities, the key
// fingerprint shown to people, the local key store (OS keyring or a
// passphrase-protected file) and the key pinning store.
//
// Guarantees:
//
//   - Fingerprint is the one definition of a key fingerprint used by the
//     portal and every client (see Fingerprint).
//   - A private key is stored either in the OS keyring (service "Bildbote")
//     or in an age passphrase-encrypted (scrypt) file; it is never written
//     to disk in plaintext. Which one was used is reported (Backend).
//   - Passphrases come from BILDBOTE_KEY_PASSPHRASE, a passphrase file or a
//     caller-supplied prompt; never from the command line.
//   - A pinned community key that changes is refused with *KeyChangedError;
//     policy pins always win over pins learnt on first use.
//
// Not guaranteed: age authenticates no sender. Anyone who knows a clinic's
// public key can encrypt to it; who sent an envelope is whatever its
// manifest claims.
package crypto
