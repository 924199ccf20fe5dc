package app

// JobDetail is what a job works on, as a front end shows it: exactly one
// of Send, Import or Save is set, by the job's Kind. It is derived from
// the job's resumable state and holds no secrets and no patient data
// (the job store is not a patient record): no names, IDs or dates of
// birth, no passwords, API keys, codes or answers, no spool or work paths.
type JobDetail struct {
	Send   *SendDetail   `json:"send,omitempty"`
	Import *ImportDetail `json:"import,omitempty"`
	Save   *SaveDetail   `json:"save,omitempty"`
}

// SendDetail: where a send goes and what it holds.
type SendDetail struct {
	Portal        string `json:"portal"`
	Inbox         string `json:"inbox"`
	CommunityName string `json:"communityName,omitempty"`
	// Studies is the number of studies chosen (0: every study scanned).
	Studies int `json:"studies,omitempty"`
	// Sealed: the envelope is made; Files and Size are known from then.
	Sealed bool  `json:"sealed"`
	Files  int   `json:"files,omitempty"`
	Size   int64 `json:"size,omitempty"`
	// Pseudonym: the send is de-identified under it ("" for a plain
	// send); the pseudonym is what the clinic sees, not patient data.
	Pseudonym string `json:"pseudonym,omitempty"`
}

// ImportDetail: which inbox an import fetches and where it puts them.
type ImportDetail struct {
	Portal string `json:"portal"`
	Inbox  string `json:"inbox"`
	// Items are the inbox item IDs the import works on.
	Items []string `json:"items"`
	ToDir string   `json:"toDir,omitempty"`
	PACS  []string `json:"pacs,omitempty"`
	// PatientIDMapped: the clinic's own patient ID goes into the PACS
	// (the IDs themselves are patient data and stay out of here).
	PatientIDMapped bool `json:"patientIdMapped,omitempty"`
}

// SaveDetail: where a redeemed code's studies go.
type SaveDetail struct {
	// Dir is the folder they are saved under ("" with no copy kept).
	Dir   string   `json:"dir,omitempty"`
	Items int      `json:"items"`
	PACS  []string `json:"pacs,omitempty"`
	// KeepCopy: with PACS targets, a copy stays in Dir too.
	KeepCopy        bool `json:"keepCopy,omitempty"`
	PatientIDMapped bool `json:"patientIdMapped,omitempty"`
}

// detailOf derives j's Detail from its stored state; nil for a kind
// without one or state that does not decode.
func detailOf(j *Job) *JobDetail {
	if len(j.params) == 0 {
		return nil
	}
	switch j.Kind {
	case KindSend:
		var p sendParams
		if jsonUnmarshal(j.params, &p) != nil {
			return nil
		}
		d := &SendDetail{Portal: p.Portal, Inbox: p.Inbox, CommunityName: p.CommunityName,
			Studies: len(p.Studies), Sealed: p.Sealed, Files: p.Files, Size: p.Size}
		if p.Deid != nil {
			d.Pseudonym = p.Deid.Pseudonym
		}
		return &JobDetail{Send: d}
	case KindImport:
		var p importParams
		if jsonUnmarshal(j.params, &p) != nil {
			return nil
		}
		d := &ImportDetail{Portal: p.Portal, Inbox: p.Inbox, Items: []string{}, ToDir: p.ToDir,
			PACS: p.importTargets(), PatientIDMapped: p.PatientID != ""}
		for _, it := range p.Items {
			d.Items = append(d.Items, it.ID)
		}
		return &JobDetail{Import: d}
	case KindSave:
		var p saveParams
		if jsonUnmarshal(j.params, &p) != nil {
			return nil
		}
		d := &SaveDetail{Items: len(p.Items), PACS: p.PACS, PatientIDMapped: p.PatientID != ""}
		if !p.NoCopy {
			d.Dir = p.Dir
			d.KeepCopy = len(p.PACS) > 0
		}
		return &JobDetail{Save: d}
	}
	return nil
}
