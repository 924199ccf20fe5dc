// Package transfer holds what the transfer clients share: the progress
// interface through which they report, the states they report, and the
// one classification of their errors (Classify: Permanent or Transient,
// with a reason; see classify.go).
//
// The clients live in subpackages: envelope (the encrypted send
// container), tus (resumable upload), dlx (DICOM Link Exchange download),
// inbox (community lookup, receipts, clinic inbox), safezip (safe ZIP
// extraction), stow (DICOMweb STOW-RS), diskspace (free space checks,
// disk-full errors) and httpclient (the one HTTP client, with its redirect
// and TLS policies). None of them prints anything or knows how progress
// is shown: a terminal printer, a JSON printer and the GUI are
// implementations of Progress.
package transfer

import "time"

// State is what a transfer is doing right now.
type State string

// The states a client reports.
const (
	StateHashing     State = "hashing"    // reading sources to checksum them
	StateSealing     State = "sealing"    // compressing and encrypting
	StateOpening     State = "opening"    // decrypting and extracting
	StateConnecting  State = "connecting" // creating or looking up the remote resource
	StateUploading   State = "uploading"
	StateDownloading State = "downloading"
	StateStoring     State = "storing" // sending to a PACS
	// StateWaitingNetwork: the last attempt failed with a network error or
	// a busy server; the client waits (Status.Wait) and retries, within
	// its retry policy's bound (then it returns a *GaveUpError), or until
	// its context is cancelled. Status.Err is the last error.
	StateWaitingNetwork State = "waiting-network"
	// StateWaitingServer: the server is busy preparing (DLX 503) and said
	// when to come back (Status.Wait).
	StateWaitingServer State = "waiting-server"
	StateDone          State = "done"
)

// Status is one progress report.
type Status struct {
	State State
	Item  string // what is being transferred (a file name, an item id); no patient data
	Done  int64  // bytes done
	Total int64  // bytes in total; 0 when unknown
	Err   error  // the last error, in StateWaitingNetwork
	Wait  time.Duration
}

// Progress receives reports. Implementations must be cheap and safe for
// concurrent use: clients call them from their copy loops (throttling the
// display is the implementation's job).
type Progress interface {
	Report(Status)
}

// ProgressFunc adapts a function to Progress.
type ProgressFunc func(Status)

// Report calls f.
func (f ProgressFunc) Report(s Status) { f(s) }

// Report sends s to p when p is not nil.
func Report(p Progress, s Status) {
	if p != nil {
		p.Report(s)
	}
}
