package app

import "encoding/json"

// JobParams is a job's stored resumable state, for the external tests
// that check what it must never hold.
func JobParams(j *Job) json.RawMessage { return j.params }
