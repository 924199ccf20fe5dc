// Package wire is the contract between the Bildbote portal and its
// clients on the upload and inbox side (the download side is DLX,
// transfer/dlx): URL paths, headers, tus metadata keys, the status codes
// beyond HTTP's, and the JSON shapes. The reference portal (portal/)
// writes them and the clients (transfer/tus, transfer/inbox, app) read
// them from this one place, so the two sides cannot drift apart;
// portal's TestWireContract decodes the portal's real answers with these
// types, unknown fields refused.
//
// Everything here is data a client receives from a server: a client
// must still check it (lengths, ID grammar, sizes) before it becomes a
// path, an allocation or a wait.
package wire

import "time"

// Paths under the portal's root.
const (
	// APIRoot prefixes every path of the upload and inbox side.
	APIRoot = "/api/v1"
	// CommunitiesPath + code: GET a community (Community); without a code
	// and with ?q=, a search (CommunityList).
	CommunitiesPath = APIRoot + "/communities"
	// UploadsPath is the tus 1.0 creation URL (POST), and the prefix of
	// every upload's URL. A Community's UploadURL names it too.
	UploadsPath = APIRoot + "/uploads/"
	// ReceiptsPath + id: GET a finished upload's Receipt.
	ReceiptsPath = APIRoot + "/receipts/"
	// InboxPath + code: GET the InboxList (API key); + code/id: GET an
	// envelope, DELETE it (acknowledged or rejected, see RejectReason).
	InboxPath = APIRoot + "/inbox/"
	// HealthPath answers {"status":"ok"} while the portal serves.
	HealthPath = "/healthz"
)

// Headers beyond HTTP's own.
const (
	// UploadSecretHeader carries an upload's creator secret: the answer
	// to the tus creation POST holds it, and HEAD, PATCH and DELETE of
	// that upload must send it back (32 random bytes, base64url).
	UploadSecretHeader = "Bildbote-Upload-Secret"
	// ReceiptHeader on the final PATCH's answer is the path of the
	// upload's Receipt (ReceiptsPath + id).
	ReceiptHeader = "Bildbote-Receipt"
	// CodeExpiresHeader on a DLX token answer is the access code's
	// expiry, RFC 3339 in UTC (an extension of DLX; clients that do not
	// know it ignore it).
	CodeExpiresHeader = "Bildbote-Code-Expires"
)

// Upload-Metadata keys of the tus creation POST.
const (
	MetaCommunity = "community" // the inbox's short code, e.g. bM1X
	MetaSHA256    = "sha256"    // the envelope's SHA-256, lower-case hex
	MetaFilename  = "filename"  // a display name, never a path
)

// RejectParam is the query parameter of an inbox DELETE that
// acknowledges an envelope as rejected (the clinic could not open it and
// keeps it in its quarantine), with one of RejectReasons as its value.
const RejectParam = "rejected"

// RejectReasons are the reasons a clinic may give with RejectParam.
var RejectReasons = []string{"not-for-us", "corrupt", "verify", "limit", "other"}

// StatusChecksumMismatch answers the final PATCH when the upload's bytes
// do not have the SHA-256 of MetaSHA256 (tus's checksum extension uses
// 460 for the same). The portal has discarded the upload; sending the
// same bytes again will not help.
const StatusChecksumMismatch = 460

// Community is a clinic's inbox as the portal describes it.
type Community struct {
	Code             string      `json:"code"`
	Name             string      `json:"name"`
	Recipients       []Recipient `json:"recipients"`
	MaxUploadBytes   int64       `json:"maxUploadBytes"`
	PasswordRequired bool        `json:"passwordRequired"`
	// UploadURL is the tus creation URL, relative to the portal's root
	// or absolute (a client keeps it on the portal's own origin). The
	// portal sends it absolute on its public address, so it keeps a
	// reverse proxy's path prefix.
	UploadURL string `json:"uploadURL"`
}

// RecipientStrings returns the recipients as "age1…" strings (for
// sealing and pinning).
func (c *Community) RecipientStrings() []string {
	out := make([]string, len(c.Recipients))
	for i, r := range c.Recipients {
		out[i] = r.Recipient
	}
	return out
}

// Recipient is an age recipient with its fingerprint.
type Recipient struct {
	Recipient   string `json:"recipient"`
	Fingerprint string `json:"fingerprint"`
}

// CommunityList is the answer of a community search.
type CommunityList struct {
	Communities []Community `json:"communities"`
}

// Receipt is the portal's confirmation that an upload was filed into an
// inbox.
type Receipt struct {
	ID            string    `json:"id"`
	Community     string    `json:"community"`
	CommunityName string    `json:"communityName"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	ReceivedAt    time.Time `json:"receivedAt"`
}

// InboxItem is an envelope waiting in an inbox.
type InboxItem struct {
	ID         string    `json:"id"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	ReceivedAt time.Time `json:"receivedAt"`
}

// InboxList is the answer of GET InboxPath + code.
type InboxList struct {
	Items []InboxItem `json:"items"`
}

// Error is the body of every error answer of this side of the API.
type Error struct {
	Error   string `json:"error"`   // a stable code, e.g. "unknown-community"
	Message string `json:"message"` // English, for logs; not for the user
	// Limit and Held are bytes, on a refusal for a size limit or a quota
	// (413, 507): the limit, and what the portal holds already.
	Limit int64 `json:"limit,omitempty"`
	Held  int64 `json:"held,omitempty"`
}
