package app

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/bildbote/bildbote/internal/i18n"
)

// JobKind is what a job does.
type JobKind string

// The job kinds.
const (
	KindSend   JobKind = "send"   // seal and upload studies to a community inbox
	KindSave   JobKind = "save"   // download redeemed studies into the library
	KindImport JobKind = "import" // fetch an inbox, decrypt, verify, store, acknowledge
)

// JobState is where a job is in its life.
type JobState string

// The job states. Done, Failed and Cancelled are final.
const (
	StateQueued   JobState = "queued"
	StateRunning  JobState = "running"
	StateWaiting  JobState = "waiting-for-network" // retrying after a transient error
	StatePaused   JobState = "paused"
	StateDone     JobState = "done"
	StateFailed   JobState = "failed"
	StateCanceled JobState = "cancelled"
)

// LocalTitle is the job's title in lang; Title for jobs stored before
// titles were translatable.
func (j *Job) LocalTitle(lang i18n.Lang) string {
	if j.TitleKey == "" {
		return j.Title
	}
	return i18n.T(lang, j.TitleKey, stringArgs(j.TitleArgs)...)
}

// jobTitle is a translatable title: a catalog key with %s arguments
// (strings survive the JSON of the job store unchanged), or plain text.
type jobTitle struct {
	key   string
	args  []string
	plain string
}

func titled(key string, args ...string) jobTitle { return jobTitle{key: key, args: args} }

func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Final reports whether the state is an end state.
func (s JobState) Final() bool {
	return s == StateDone || s == StateFailed || s == StateCanceled
}

// Job is one transfer, as stored in the job store and sent in events.
type Job struct {
	ID    string   `json:"id"`
	Kind  JobKind  `json:"kind"`
	State JobState `json:"state"`
	// Title is a short description for lists ("bM1X · 2 envelope(s)"), in
	// English; LocalTitle translates it from TitleKey and TitleArgs.
	Title     string    `json:"title"`
	TitleKey  string    `json:"titleKey,omitempty"`
	TitleArgs []string  `json:"titleArgs,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`

	// Phase is what a running job does right now: a transfer.State such
	// as "hashing", "sealing", "uploading", "downloading", "opening",
	// "storing", "waiting-network", "waiting-server", or "unpacking".
	Phase string `json:"phase,omitempty"`

	BytesDone  int64 `json:"bytesDone"`
	BytesTotal int64 `json:"bytesTotal"`
	// Items counts envelopes, studies or files, whichever the kind moves.
	ItemsDone  int `json:"itemsDone,omitempty"`
	ItemsTotal int `json:"itemsTotal,omitempty"`
	// Speed in bytes per second, averaged; ETA is 0 while unknown.
	Speed float64       `json:"speed,omitempty"`
	ETA   time.Duration `json:"etaNs,omitempty"`

	// RetryAt is when a job waiting for the network (StateWaiting, or
	// running while its client waits: Phase "waiting-network") tries
	// again; zero otherwise. RetryNow cuts the wait short.
	RetryAt time.Time `json:"retryAt,omitzero"`

	// Interrupted is set when the process stopped while the job ran (crash,
	// reboot, Close); such a job is paused and can be resumed.
	Interrupted bool `json:"interrupted,omitempty"`
	// Error says why the job failed or is waiting; nil otherwise.
	Error   *JobError `json:"error,omitempty"`
	Receipt *Receipt  `json:"receipt,omitempty"`

	// Detail is what the job works on, typed per kind (JobDetail); it is
	// derived from the job's resumable state, which stays inside the core.
	Detail *JobDetail `json:"detail,omitempty"`

	// params is the kind's own resumable state (sendParams, importParams,
	// saveParams: spool path, upload URL, per-instance PACS results…),
	// stored with the job but never shown: front ends read Detail. Never
	// holds secrets: no API keys, codes, answers or JWTs.
	params json.RawMessage
}

// JobError is a translatable error: an i18n key, its arguments and a hint
// key, plus the English detail for logs.
type JobError struct {
	Kind    i18n.Kind `json:"kind"`
	Key     string    `json:"key"`
	Args    []any     `json:"args,omitempty"`
	HintKey string    `json:"hint,omitempty"`
	Detail  string    `json:"detail,omitempty"`
}

// Message is the translated message.
func (e *JobError) Message(lang i18n.Lang) string { return i18n.T(lang, e.Key, e.args()...) }

// Hint is the translated hint, "" when there is none.
func (e *JobError) Hint(lang i18n.Lang) string {
	if e.HintKey == "" {
		return ""
	}
	return i18n.T(lang, e.HintKey)
}

// UserError turns the stored error back into an *i18n.UserError.
func (e *JobError) UserError() *i18n.UserError {
	ue := i18n.NewError(e.Kind, e.Key, e.args()...).WithHint(e.HintKey)
	if e.Detail != "" {
		ue.Wrap(errors.New(e.Detail))
	}
	return ue
}

// UnmarshalJSON restores integer arguments as int64 so %d verbs still work.
func (e *JobError) UnmarshalJSON(data []byte) error {
	type plain JobError
	var p plain
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return err
	}
	for i, a := range p.Args {
		if n, ok := a.(json.Number); ok {
			if v, err := n.Int64(); err == nil {
				p.Args[i] = v
			} else if f, err := n.Float64(); err == nil {
				p.Args[i] = f
			}
		}
	}
	*e = JobError(p)
	return nil
}

// jobErrorFrom records err for the job store: a UserError keeps its key,
// arguments and hint; anything else becomes "unexpected error".
func jobErrorFrom(err error) *JobError {
	if ue, ok := i18n.AsUserError(err); ok {
		je := &JobError{Kind: ue.Kind, Key: ue.Key, HintKey: ue.HintKey, Detail: err.Error()}
		for _, a := range ue.Args {
			je.Args = append(je.Args, plainArg(a))
		}
		return je
	}
	return &JobError{Key: "common.unexpected", Args: []any{err.Error()}, Detail: err.Error()}
}

// args are Args with sizes made i18n.Bytes again (plainArg stores one
// as {"bytes": N}), so they read in the reader's language.
func (e *JobError) args() []any {
	out := make([]any, len(e.Args))
	for i, a := range e.Args {
		out[i] = a
		m, ok := a.(map[string]any)
		if !ok || len(m) != 1 {
			continue
		}
		switch n := m["bytes"].(type) {
		case json.Number: // read back from the job store
			if v, err := n.Int64(); err == nil {
				out[i] = i18n.Bytes(v)
			}
		case int64:
			out[i] = i18n.Bytes(n)
		}
	}
	return out
}

// plainArg keeps numbers and strings, and a size (i18n.Bytes) as
// {"bytes": N}; anything else becomes its text, so the stored error
// survives JSON.
func plainArg(a any) any {
	switch v := a.(type) {
	case i18n.Bytes:
		return map[string]any{"bytes": int64(v)}
	case string, bool, float64, float32:
		return v
	case int:
		return int64(v)
	case int64:
		return v
	case int32:
		return int64(v)
	case uint64:
		return int64(v)
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(a)
}

// Receipt is what a finished job produced.
type Receipt struct {
	// Upload is the portal's receipt of a send.
	Upload *UploadReceipt `json:"upload,omitempty"`
	// Saved lists the folders a save wrote into the library.
	Saved []SavedStudy `json:"saved,omitempty"`
	// Imported lists what an import did, per envelope and study.
	Imported []ImportResult `json:"imported,omitempty"`
	// Quarantined lists the envelopes an import could not open and moved
	// to the quarantine (Core.Quarantine).
	Quarantined []QuarantinedItem `json:"quarantined,omitempty"`
	// PACSRefused are the per-instance results of envelopes a PACS did
	// not take completely (not acknowledged, still on the portal).
	PACSRefused []PACSInstance `json:"pacsRefused,omitempty"`
}

// UploadReceipt is the portal's confirmation that an envelope arrived.
type UploadReceipt struct {
	ID            string    `json:"id"`
	Community     string    `json:"community"`
	CommunityName string    `json:"communityName,omitempty"`
	Size          int64     `json:"size"`
	SHA256        string    `json:"sha256"`
	ReceivedAt    time.Time `json:"receivedAt"`
	Portal        string    `json:"portal"`
	Studies       int       `json:"studies"`
	Files         int       `json:"files"`
}

// SavedStudy is one study folder a save wrote.
type SavedStudy struct {
	ItemID string `json:"itemId"`
	Dir    string `json:"dir"`
	Files  int    `json:"files"`
	Bytes  int64  `json:"bytes"`
	// Stored, Warnings, Failed and PACS: what the PACS targets of a save
	// into the PACS said (see ImportResult); Dir is "" when no copy was
	// kept.
	Stored   int            `json:"stored,omitempty"`
	Warnings int            `json:"warnings,omitempty"`
	Failed   int            `json:"failed,omitempty"`
	PACS     []PACSInstance `json:"pacs,omitempty"`
}

// ImportResult is the outcome for one study of one envelope.
type ImportResult struct {
	ItemID   string `json:"itemId"`
	StudyUID string `json:"studyInstanceUID,omitempty"`
	Files    int    `json:"files"`
	Dir      string `json:"dir,omitempty"`
	// Stored and Failed count instances the PACS accepted and refused.
	// Summed over the PACS targets; Warnings are among Stored (kept with
	// a warning status such as B000).
	Stored   int `json:"stored,omitempty"`
	Warnings int `json:"warnings,omitempty"`
	Failed   int `json:"failed,omitempty"`
	// PACS is what each target said about each instance of the study.
	PACS []PACSInstance `json:"pacs,omitempty"`
	// Acked is true once the envelope was deleted from the portal.
	Acked bool `json:"acked"`
	// AlreadyImported: the folder held this study with all its images
	// already (the same CD sent twice); nothing was stored again, Dir is
	// the folder from before.
	AlreadyImported bool `json:"alreadyImported,omitempty"`
}

var (
	bucketJobs  = []byte("jobs")
	bucketCodes = []byte("codes")
)

// jobStore persists jobs in bbolt, keyed by ID.
type jobStore struct{ db *bolt.DB }

func newJobID() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

// storedJob is a Job as the job store keeps it: with its resumable
// state, under the key "params" that stores before JobDetail used too.
type storedJob struct {
	*Job
	Params json.RawMessage `json:"params,omitempty"`
}

func encodeJob(j *Job) ([]byte, error) { return json.Marshal(storedJob{Job: j, Params: j.params}) }

func decodeJob(data []byte) (*Job, error) {
	sj := storedJob{Job: new(Job)}
	if err := json.Unmarshal(data, &sj); err != nil {
		return nil, err
	}
	sj.Job.params = sj.Params
	if sj.Job.Detail == nil { // stored before JobDetail existed
		sj.Job.Detail = detailOf(sj.Job)
	}
	return sj.Job, nil
}

func (s *jobStore) put(j *Job) error {
	data, err := encodeJob(j)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).Put([]byte(j.ID), data)
	})
}

func (s *jobStore) get(id string) (*Job, error) {
	var j *Job
	err := s.db.View(func(tx *bolt.Tx) error {
		data := tx.Bucket(bucketJobs).Get([]byte(id))
		if data == nil {
			return nil
		}
		var err error
		j, err = decodeJob(data)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("job %s: %w", id, err)
	}
	if j == nil {
		return nil, i18n.NewError(i18n.KindInput, "app.job-unknown", id).WithHint("app.job-unknown.hint")
	}
	return j, nil
}

func (s *jobStore) list() ([]*Job, error) {
	var jobs []*Job
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketJobs).ForEach(func(_, v []byte) error {
			j, err := decodeJob(v)
			if err != nil {
				return err
			}
			jobs = append(jobs, j)
			return nil
		})
	})
	sort.Slice(jobs, func(a, b int) bool { return jobs[a].Created.Before(jobs[b].Created) })
	return jobs, err
}

func (s *jobStore) delete(id string) error {
	return s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketJobs).Delete([]byte(id)) })
}

func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
