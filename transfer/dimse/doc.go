// Package dimse speaks DICOM's upper layer (PS3.8) and the C-ECHO and
// C-STORE services as an SCU (PS3.7), in pure Go: it sends a clinic's
// images to a PACS the way most German PACS take them.
//
//	err := dimse.Echo(ctx, dimse.Config{Addr: "pacs:104", Called: "PACS", Calling: "BILDBOTE"})
//	results, err := dimse.StoreFiles(ctx, cfg, paths)
//
// No maintained Go DIMSE library was found (grailbio/go-netdicom and its
// forks stopped in 2018; suyashkumar/dicom has no networking; the younger
// ones negotiate one context per SOP class and convert nothing), so this
// package is written against the standard and tested against dcmtk.
//
// What is guaranteed:
//   - Every wait is bounded: the TCP connect (ConnectTimeout), the answer
//     to A-ASSOCIATE-RQ and A-RELEASE-RQ (ARTIM), each DIMSE response
//     (ReadTimeout) and each PDU write (WriteTimeout); cancelling the
//     context ends any of them at once. No PDU larger than MaxPDU (1 MiB
//     for control PDUs) is read.
//   - P-DATA-TF PDUs never exceed the SCP's maximum length (1 MiB when it
//     sets none).
//   - Each file is proposed in its own transfer syntax; explicit VR
//     little endian also as implicit, big endian and deflated also as both
//     little endian syntaxes (one presentation context per SOP class and
//     syntax set, up to 128 per association; more open further
//     associations). When the SCP picks another syntax than the file's,
//     the data set is re-encoded losslessly: explicit to implicit VR
//     (values unchanged; headers, sequence and group lengths rewritten),
//     big to little endian (binary values swapped by their VR; a UN value,
//     whose byte order is unknown, makes that instance fail instead),
//     deflated inflated (to at most 1 GiB). Compressed pixel data is
//     offered only as it is; an SCP that refuses it gets a per-instance
//     Result saying so, never a silent drop. Converted data sets are
//     built in memory; files sent as they are stream from disk.
//   - The C-STORE-RQ names the data set's SOP class and instance UIDs
//     (the meta group's copies can disagree).
//   - Config.Associations > 1 sends over parallel associations.
//   - A file that cannot be sent (not Part 10, odd data set length) is
//     refused alone before anything goes on the wire; the association goes
//     on with the others.
//   - DICOM TLS (PS3.15 Annex B) with Config.TLS (a target's tls=1): TLS
//     1.2 or 1.3 (crypto/tls, no cgo), the PACS's certificate checked
//     against the OS trust store plus an optional CA file and against the
//     address's host (DNS name or IP SAN), an optional client certificate
//     for a PACS that requires one. The handshake is bounded by ARTIM;
//     the certificate files are read before anything is dialled. Failures
//     are *TLSError naming the problem: untrusted (with the certificate's
//     subject and issuer), name mismatch (with its names), expired, client
//     certificate required or refused, a plain DICOM port under tls=1 or
//     a TLS port without it (each told apart by a second, short probe
//     when the peer only hung up), no common version. EchoInfo says what
//     was negotiated (version, the PACS's certificate and its SHA-256).
//     QUICKACK works under TLS: the quick ACKs are set on the TCP socket
//     beneath it.
//   - Errors meant for a person are *i18n.UserError (German and English),
//     wrapping the typed cause: *RejectedError (with the PS3.8 reasons,
//     e.g. CallingAENotRecognized), *AbortedError, *ProtocolError,
//     *EchoStatusError, *TLSError or the network error.
//
// Not yet: decompressing, resuming (StoreFiles returns which
// instances the SCP confirmed; re-sending only the rest is the caller's),
// TCP_QUICKACK outside Linux (an SCP writing its response in two segments
// then costs a delayed ACK per instance, as it does dcmtk's storescu),
// certificate revocation (CRL/OCSP) checks beyond what the OS store does.
package dimse
