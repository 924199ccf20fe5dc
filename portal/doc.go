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
//     in-memory locker; extension: the Bildbote-Upload-Secret creator
//     secret, see Upload limits), /api/v1/receipts/{id},
//     /api/v1/inbox/{code}[/{id}] with the clinic's API key as Bearer.
//   - Every download (study ZIPs, PDFs, envelopes) carries Content-Length,
//     ETag and Accept-Ranges: bytes and honours Range (http.ServeContent).
//
// # Guarantees
//
//   - Access codes, answers and the upload password are stored only as
//     salted argon2id hashes; codes are found through an HMAC-SHA256 index
//     under a key kept in the data dir, then verified against their slow
//     hash. The portal keeps no code in clear anywhere: `code issue`
//     prints it and writes the code sheet only where the operator says
//     (--sheet FILE outside the data dir, or - for stdout); sheets an
//     earlier version left in DIR/sheets are deleted at start and by
//     every sweep.
//   - No existence oracle: an unknown code is asked the same question as
//     a real date-of-birth code, and its answers get the same status,
//     body, headers and hashing time. Lock-outs (AnswerLimits) are kept in
//     memory under the HMAC of the token as sent, for unknown tokens
//     exactly as for real ones, and a locked attempt that reaches the
//     hashing spends the same argon2id work as a check.
//   - Lock-outs keep a patient who knows the answer able to get in: 5
//     wrong answers from one address (an IPv6 /64) on one code lock that
//     address out of that code, 10 on any codes lock it out of all, for a
//     minute, doubling with every further failure (at most a day); the
//     locked address gets 401 {"error":"locked"} with Retry-After (the
//     client shows "try again at HH:MM"); other addresses are not
//     affected. Only a global attack (20 wrong answers from at least 4
//     addresses) locks a code for everyone, with the same backoff;
//     `code extend --unlock` lifts it while the server runs, and `code
//     list` shows the counter. Every attempt counts as a failure until it
//     succeeds, so parallel requests get no extra tries. A restart lifts
//     all locks.
//   - A global budget bounds answer checks over all clients together (2
//     a second, bursts of 40; serve --answer-rate/--answer-burst): beyond
//     it tokentfa answers 503 {"timeOutInSeconds": N} with Retry-After,
//     the same for every token, before any lookup. At most
//     Limits.HashSlots password hashes (answers and upload passwords)
//     run at once. Unknown, wrong, revoked and locked all answer 401;
//     only "expired but right" answers 403.
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
// # Upload limits (Limits; serve flags in brackets)
//
// Anyone may upload to a public inbox, so every resource an upload costs
// is capped. The defaults suit a clinic portal on one machine; the limits
// answer with the API's JSON error body, whose "error" names the limit;
// a byte limit also gives "limit" (the limit in bytes) and, for the
// quotas, "held" (what counts against it already), so that Bildbote's
// client names both in the sender's language. The client waits out a 429
// but stops at a 413 or 507: an inbox stays full until its clinic
// collects, the disk until the operator acts; the job stays resumable.
//
//   - Creator secret. The 201 of a creation POST carries
//     Bildbote-Upload-Secret (32 random bytes, base64url); HEAD, PATCH and
//     DELETE of that upload need it back in the same header, else 404 as
//     for an unknown upload, so a leaked upload URL lets nobody delete,
//     write or interrupt it. Only its SHA-256 is stored. Uploads made
//     before creator secrets existed have none: they cannot be written or
//     deleted any more (their client gets 404 and, like Bildbote's client,
//     starts a new upload), a finished one still answers HEAD, and the
//     sweep removes them after AbandonAfter.
//   - Password checks. Every argon2id verification (upload passwords and
//     DLX answers) takes one of HashSlots (max(2, CPUs); --hash-slots),
//     19 MiB each, so hashing needs at most HashSlots × 19 MiB. A request
//     waits for a slot at most HashWait (5 s; --hash-wait), then gets 503
//     with Retry-After. Size: HashSlots × 19 MiB must fit in memory next
//     to everything else; more slots only help with more cores.
//   - Upload-password lock-out. Every attempt counts as a failure until it
//     succeeds. PasswordAddrFailures (5; --password-failures) wrong
//     passwords from one address (an IPv6 /64) lock it out for
//     PasswordLockout (1 min; --password-lockout), doubling with each
//     further failure up to PasswordLockoutMax (24 h;
//     --password-lockout-max). PasswordInboxFailures (50;
//     --password-failures-inbox) from any addresses lock the inbox's
//     password for everyone, doubling up to a twelfth of the maximum (2
//     h). While locked, even the right password gets 429
//     {"error":"locked"} with Retry-After; a wrong one that starts a lock
//     carries Retry-After with its 403. Failures are forgotten a day after
//     the last one; a restart forgets all.
//   - Quotas, checked at creation against the declared Upload-Length (a
//     deferred length is refused): the bytes an inbox holds that its
//     clinic has not collected — filed envelopes plus uploads in progress
//     at their declared length — at most InboxPendingBytes (64 GiB;
//     --inbox-quota), else 507 "inbox-quota"; the same per client address
//     over all inboxes, AddrPendingBytes (32 GiB; --client-quota), else
//     413 "client-quota"; unfinished uploads per address,
//     AddrActiveUploads (8; --client-uploads), else 429
//     "too-many-uploads". Size the inbox quota to what a clinic receives
//     between two collections (several CDs of 0.5–2 GiB a day, collected
//     every few minutes by `receive --watch`) and the client quota to the
//     largest send of one practice; it must exceed a community's
//     --max-size. Both count a filed envelope until it is collected
//     (after a restart the address quota only while its upload is still
//     in uploads/, AbandonAfter).
//     An upload in progress whose data has not grown for ReserveIdle
//     (1 h; --reserve-idle) counts only with the bytes it has, so
//     uploads declared and never sent stop holding an inbox; its next
//     PATCH must fit the quotas again (507/413 until it does; Bildbote's
//     client then stops with the figures, resumable once it fits).
//   - Free space. A new upload that would leave less than FreeReserve (2
//     GiB; --free-reserve) free on the data dir's file system, counting
//     what the uploads in progress still have to send, gets 507
//     "insufficient-storage"; a PATCH gets the same when less than half
//     the reserve is free. The reserve keeps codes, receipts, ZIPs and the
//     database writable: size it to the largest code's files plus its
//     ZIPs, with room to spare.
//   - Metadata. The Upload-Metadata header at most MetadataBytes (4 KiB;
//     --metadata-bytes), a decoded value at most MetadataValueBytes (1
//     KiB; --metadata-value-bytes), at most MetadataKeys (16) keys: 413
//     "metadata-too-large", nothing stored. serve caps all request headers
//     at 64 KiB.
//   - Slow bodies. An upload request body may take at most BodyTimeout (15
//     min; --body-timeout), and must bring at least MinBodyRate bytes per
//     second over every MinRateWindow (1 KiB/s over 30 s;
//     --min-body-rate, --min-rate-window); else the connection is cut.
//     The bytes received until then are kept and the client resumes from
//     there, so the limits cost an honest slow line one reconnection per
//     BodyTimeout: keep BodyTimeout above a chunk's time on the slowest
//     line you serve (Bildbote sends 8 MiB chunks: 15 min ≈ 75 kbit/s).
//
// The per-address limits see the TCP peer, unless it is one of serve
// --trusted-proxies: then they see the client the proxy names (Forwarded
// for=, X-Forwarded-For; see below). Behind a reverse proxy that is not
// trusted every practice has the proxy's address, so there raise
// --client-quota, --client-uploads and --password-failures to what all
// practices together may use, or let the proxy apply its own per-client
// limits.
//
// # Behind a load balancer or reverse proxy
//
// Every absolute URL the portal hands out (the tus Location of a new
// upload, an inbox's uploadURL, the DLX apiBasePath of api_info and of the
// code page, the code sheet's link and QR code) starts with one address,
// decided per request in publicurl.go: serve --public-url when given
// (always wins); else, when the TCP peer is in --trusted-proxies (CIDRs,
// e.g. 127.0.0.1/32,::1/128), what its Forwarded (RFC 7239: proto, host)
// or X-Forwarded-Proto/-Host/-Port/-Prefix headers say; else the listen
// address. Headers of any other peer are ignored; a trusted proxy's
// values are checked (proto http or https, a DNS name or IP literal, port
// 1-65535, a prefix of plain path segments) and a bad one is refused with
// 400 bad-forwarded, never put into a URL. With several proxies in a row
// the entry of the outermost trusted one counts. tusd's own
// RespectForwardedHeaders is off (it believes any peer). Off loopback,
// serve refuses to start without --public-url or --trusted-proxies: the
// listen address (0.0.0.0:443) is no address a client can use. Code
// sheets are printed by `code issue`, outside any request: it takes
// --public-url, else the one serve was started with, and asks for it
// when serve derives its address from proxies. A proxy must set (not
// pass on) the headers it is trusted for; nginx and HAProxy examples are
// the configurations of portal/admin's TestBehindTLSProxies.
//
// # Storage (the data dir)
//
// The data dir (0700, files 0600) holds patient data: treat a copy of it
// like the PACS. What it does not hold is any access code, answer,
// password or API key in clear. Every file and bucket:
//
//	state.db                 bbolt (0600), four buckets:
//	  codes                  record ID → the code's argon2id hash; per question
//	                         its type, custom text and the answer's argon2id
//	                         hash; items (description, study UID and date,
//	                         modalities, and in clear the patient's name,
//	                         birth date and sex, which DLX's list returns);
//	                         created, expiry, revoked, download count
//	  codeIndex              HMAC-SHA256(index key, code) → record ID
//	  communities            code, name, age recipients (public keys),
//	                         SHA-256 of the API key (256 random bits), the
//	                         upload password's argon2id hash, size limit
//	  receipts               upload ID → community, size, SHA-256, time, the
//	                         sender's file name, acknowledged/rejected
//	keys/code-index.key      SECRET: the HMAC key of codeIndex (with it a copy
//	                         still needs 2^60 guesses per code: no code is
//	                         recoverable)
//	keys/jwt-ed25519.seed    SECRET: signs DLX session tokens (a thief can mint
//	                         tokens for this portal until the key is replaced)
//	codes/<record>/src/      a code's DICOM files and PDFs, in clear (patient
//	                         data, birth date included: the answer to a
//	                         date-of-birth question, so the code is the only
//	                         secret protecting them)
//	codes/<record>/index.json   their dicomscan.Index (patient names, IDs,
//	                         birth dates, study data)
//	codes/<record>/zip/      prepared IHE PDI ZIPs (one per study, all.zip),
//	                         in clear
//	uploads/<id>, <id>.info  tusd file store: age-encrypted envelopes (opaque
//	                         to the portal) and their metadata (community,
//	                         sha256, the sender's file name, the client
//	                         address, the digest of the creator's secret;
//	                         never the upload password)
//	inbox/<community>/<id>   filed envelopes (links to the uploads), encrypted
//	public-url.txt           the last serve --public-url, else its listen
//	                         address (for code sheets); empty behind
//	                         --trusted-proxies without --public-url
//	demo.json                only in a `demo` data dir: the demo code and its
//	                         birth date in clear (synthetic, never patients)
//	admin.sock               the running server's admin socket (when the
//	                         path is too long for a socket: admin.sock.path
//	                         names one in a private temporary folder)
//
// Lock-out counters and the answer budget live only in the server's
// memory. There is no sheets/ folder any more (see above).
//
// A background sweep deletes codes (and their files) expired or revoked
// longer than Retention ago, unfinished uploads idle longer than
// AbandonAfter (tusd does not), and finished uploads after the same time
// (their inbox copy is a separate link). An acknowledged inbox item is
// deleted at once. A clinic that cannot open an envelope acknowledges it
// as rejected (DELETE /api/v1/inbox/{code}/{id}?rejected=REASON, REASON
// one of wire.RejectReasons): it is deleted too, and its receipt keeps the
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
