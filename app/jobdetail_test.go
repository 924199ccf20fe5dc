package app

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestJobDetail: each kind's Detail comes from its stored state, a job
// stored before Detail existed (only "params") gets one on reading, and
// what events and jobs --json carry (the Job's JSON) holds none of the
// internal state: no paths of the spool or work folders, no patient IDs,
// no sender, no upload URL.
func TestJobDetail(t *testing.T) {
	send := sendParams{Portal: "https://portal.example", Inbox: "bM1X", CommunityName: "Klinik Süd",
		UploadURL: "https://portal.example/api/v1/uploads/abc123", Studies: []string{"1.2.3"},
		Spool: "/home/u/.local/state/bildbote/spool/7f", Sealed: true, Size: 4096, Files: 12}
	send.Sender.Name = "Praxis Dr. Weiß"
	imp := importParams{Portal: "https://portal.example", Inbox: "bM1X", Items: []InboxItem{{ID: "e1"}, {ID: "e2"}},
		PACS: []string{"dicom://PACS@10.0.0.5:104"}, PatientID: "KLINIK-4711", PatientIDFrom: "CD-0815",
		WorkDir: "/tmp/work-import"}
	save := saveParams{Session: "s", Items: []saveItem{{ID: "i1"}}, Dir: "/home/u/Bildbote", WorkDir: "/home/u/Bildbote/.bildbote-x",
		PACS: []string{"https://pacs.example/dicom-web"}, PatientID: "KLINIK-4711", PatientIDFrom: "CD-0815"}
	saveNoCopy := save
	saveNoCopy.NoCopy = true
	for _, tc := range []struct {
		kind   JobKind
		params any
		check  func(*JobDetail) bool
	}{
		{KindSend, send, func(d *JobDetail) bool {
			s := d.Send
			return s != nil && s.Inbox == "bM1X" && s.CommunityName == "Klinik Süd" && s.Studies == 1 && s.Sealed && s.Size == 4096 && s.Files == 12
		}},
		{KindImport, imp, func(d *JobDetail) bool {
			i := d.Import
			return i != nil && strings.Join(i.Items, ",") == "e1,e2" && len(i.PACS) == 1 && i.PatientIDMapped && i.ToDir == ""
		}},
		{KindSave, save, func(d *JobDetail) bool {
			s := d.Save
			return s != nil && s.Dir == "/home/u/Bildbote" && s.KeepCopy && s.Items == 1 && s.PatientIDMapped
		}},
		{KindSave, saveNoCopy, func(d *JobDetail) bool {
			s := d.Save
			return s != nil && s.Dir == "" && !s.KeepCopy && len(s.PACS) == 1
		}},
	} {
		raw, err := json.Marshal(tc.params)
		if err != nil {
			t.Fatal(err)
		}
		// As an older version stored it: the state under "params", no detail.
		old, _ := json.Marshal(map[string]any{"id": "j1", "kind": tc.kind, "state": StateQueued, "params": json.RawMessage(raw)})
		j, err := decodeJob(old)
		if err != nil {
			t.Fatal(err)
		}
		if j.Detail == nil || !tc.check(j.Detail) {
			t.Fatalf("%s: detail %+v", tc.kind, j.Detail)
		}
		// Stored again and read back: the state survives.
		data, err := encodeJob(j)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeJob(data)
		if err != nil || string(back.params) != string(raw) || !tc.check(back.Detail) {
			t.Fatalf("%s: round trip %s / %+v, %v", tc.kind, back.params, back.Detail, err)
		}
		shown, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{`"params"`, "spool", "work", "KLINIK-4711", "CD-0815", "Weiß", "uploads/abc123", ".bildbote-x"} {
			if strings.Contains(string(shown), secret) {
				t.Errorf("%s: the job's JSON shows %q: %s", tc.kind, secret, shown)
			}
		}
	}
	if d := detailOf(&Job{Kind: KindSend, params: json.RawMessage(`{"inbox": 5}`)}); d != nil {
		t.Errorf("undecodable state gave a detail: %+v", d)
	}
}
