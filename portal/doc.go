// Package portal is bildbote-portal, the reference server: DLX v1 downloads
// by access code (DIN/TS 19455, dicomLinkExchange.yaml) and community
// inboxes that receive age-encrypted envelopes over tus 1.0.
//
// # Wire contract
//
//   - /dlx/v1/{api_info, token/{value}, tokentfa/{value}, list,
//     download/{id}, downloadall} exactly per the spec; /c?token=VALUE (the
//     QR code's URL) answers like token/{value} when the
//     X-DICOM-LINK-EXCHANGE header is present, else with a small
//     translated HTML page. token/{value} without the header is 400.
//   - Extension beyond the spec: the 200 answer of tokentfa/{value} carries
//     "Bildbote-Code-Expires: <RFC 3339 UTC time>", the code's expiry
//     (whole seconds), so clients can remind the user before it runs out.
//     It is sent only after right answers; 401 and 403 never carry it.
//     Other DLX portals do not send it, so clients must treat it as optional.
//   - /api/v1/communities[/{code}], /api/v1/uploads/ (tusd v2, file store,
//     in-memory locker), /api/v1/receipts/{id}, /api/v1/inbox/{code}[/{id}]
//     with the clinic's API key as Bearer.
//   - Every download (study ZIPs, PDFs, envelopes) carries Content-Length,
//     ETag and Accept-Ranges: bytes and honours Range (http.ServeContent).
//
// # Guarantees
//
//   - Access codes, answers and the upload password are stored only as
//     salted argon2id hashes; codes are found through an HMAC-SHA256 index
//     under a key kept in the data dir, then verified against their slow
//     hash. An unknown code is asked the same question as a real
//     date-of-birth code and spends the same hashing time.
//   - Five wrong answers lock a code, and separately a client address (an
//     IPv6 /64), for a minute, doubling with every further failure (at
//     most a day). Every attempt counts as a failure until it succeeds, so
//     parallel requests get no extra tries; at most max(2, CPUs) answer
//     checks hash at once. The code's counter shows in `code list`;
//     `code extend` lifts the lock. Locked, unknown, revoked and wrong all
//     answer 401; only "expired but right" answers 403.
//   - JWTs are EdDSA (Ed25519, key in the data dir), valid 10 minutes by
//     default, scoped to one code by its random record ID (never the code).
//   - Nothing the request log writes identifies a patient: it logs the
//     route pattern, never the path or query, and never bodies or headers.
//     tusd's own log, which contains upload metadata, is discarded.
//   - Study ZIPs (IHE PDI, DICOMDIR at the root, written by dicomscan/pdi)
//     are built in the background into files and then served; meanwhile
//     downloads answer 503 with {"timeOutInSeconds": N}.
//   - An upload is verified against its sha256 metadata when its last byte
//     arrives; a mismatch deletes it and fails the PATCH with 460. A match
//     is hard-linked into the inbox and gets a receipt.
//
// # Storage (the data dir)
//
//	state.db                 bbolt: codes, code index, communities, receipts
//	keys/                    code-index HMAC key, JWT Ed25519 seed (0600)
//	codes/<record>/src/      a code's DICOM files and PDFs, as staged
//	codes/<record>/index.json   their dicomscan.Index
//	codes/<record>/zip/      prepared IHE PDI ZIPs (one per study, all.zip)
//	uploads/                 tusd file store (partial uploads survive restarts)
//	inbox/<community>/<id>   filed envelopes
//	sheets/<record>.pdf      printed code sheets
//	admin.sock               the running server's admin socket (when the
//	                         path is too long for a socket: admin.sock.path
//	                         names one in a private temporary folder)
//
// A background sweep deletes codes (and their files) expired or revoked
// longer than Retention ago, unfinished uploads idle longer than
// AbandonAfter (tusd does not), and finished uploads after the same time
// (their inbox copy is a separate link). An acknowledged inbox item is
// deleted at once. A clinic that cannot open an envelope acknowledges it
// as rejected (DELETE /api/v1/inbox/{code}/{id}?rejected=REASON, REASON
// one of RejectReasons): it is deleted too, and its receipt keeps the
// reason and the time, and the log says so (the portal never holds
// patient data in clear, so none is in either).
//
// # Admin commands while the server runs
//
// bbolt holds an exclusive lock on state.db for as long as it is open, so
// two processes cannot share it. The server keeps the database open and
// serves the admin operations (AdminAPI) on a Unix socket in the data dir
// (mode 0600, inside the 0700 data dir: only the data dir's owner can use
// it). OpenAdmin tries that socket first and opens the database itself
// only when no server answers; a server that starts while an admin
// command holds the database waits for the lock. Bulky work (copying a
// code's files, writing its sheet) is done by the admin command directly
// in the data dir; only the small records cross the socket.
package portal
