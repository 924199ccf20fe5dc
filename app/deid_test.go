package app_test

import (
	"archive/zip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bildbote/bildbote/app"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/gencd"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/testkit/corpus"
	"github.com/bildbote/bildbote/internal/testkit/validate"
)

// TestSendDeidentifiedEndToEnd (issue 19): a de-identified send of one
// study of the generated CD to the real portal, received by the clinic.
// The received study scans with the pseudonym as patient name and ID, new
// and consistent UIDs, and a DICOMDIR for them that dciodvfy, dcdirdmp and
// pydicom's FileSet accept; no byte of the patient's name or date of birth
// reaches the clinic; the mapping stays with the practice, 0600.
func TestSendDeidentifiedEndToEnd(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, 40)
	practice := openCore(t, app.Config{})
	ix, err := practice.Scan(context.Background(), []string{cdDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	study := ix.Patients[0].Studies[0]
	const pseudonym = "Zweitmeinung-0427"
	job, err := practice.StartSend(context.Background(), app.SendRequest{
		Portal: p.url, Inbox: "bM1X", Index: ix, Studies: []string{study.InstanceUID},
		Sender: app.Sender{Name: "Praxis Dr. Weiß", Contact: "030 1234"}, Patient: ix.Patients[0].Name,
		Deidentify: &app.Deidentify{Pseudonym: pseudonym},
	})
	if err != nil {
		t.Fatal(err)
	}
	done := wait(t, practice, job)
	if done.State != app.StateDone || done.Receipt == nil || done.Receipt.Upload == nil {
		t.Fatalf("send job: %+v err %+v", done, done.Error)
	}
	if d := done.Detail; d == nil || d.Send == nil || d.Send.Pseudonym != pseudonym {
		t.Errorf("job detail %+v", d)
	}
	// No work folder or spool file left; the mapping is here, 0600.
	if spool, _ := os.ReadDir(filepath.Join(practice.StateDir(), "spool")); len(spool) != 0 {
		t.Errorf("spool not emptied: %v", spool)
	}
	mapping := filepath.Join(practice.StateDir(), "deid", done.ID+"-"+pseudonym+".json")
	st, err := os.Stat(mapping)
	if err != nil {
		t.Fatalf("mapping file: %v", err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mapping file mode %v, want 0600", st.Mode().Perm())
	}
	recs, err := practice.DeidLookup(pseudonym)
	if err != nil || len(recs) != 1 || recs[0].Job != done.ID || recs[0].Pseudonym != pseudonym {
		t.Errorf("lookup %+v %v", recs, err)
	}
	mapped, err := os.ReadFile(mapping)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mapped), study.InstanceUID) {
		t.Errorf("the mapping does not hold the original study UID")
	}

	// The clinic's list shows the pseudonym only.
	items, err := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox %+v %v", items, err)
	}
	if s := items[0].Summary; s == nil || s.Patient != dicomscan.FormatName(pseudonym) || s.BirthDate != "" || s.Files != study.Files+1 || s.Studies != 1 {
		t.Errorf("inbox summary %+v, want %d files (the DICOMDIR too)", s, study.Files+1)
	}
	to := t.TempDir()
	ij, err := cl.core.StartImport(app.ImportRequest{Portal: p.url, Inbox: "bM1X", APIKey: cl.apiKey, ToDir: to})
	if err != nil {
		t.Fatal(err)
	}
	ij = wait(t, cl.core, ij)
	if ij.State != app.StateDone || len(ij.Receipt.Imported) != 1 {
		t.Fatalf("import job %+v err %+v", ij, ij.Error)
	}
	pa := cd.Patients[0]
	needles := map[string][]byte{
		"name on disk":  pa.NameOnDisk,
		"name UTF-8":    []byte(strings.Split(pa.Name, "^")[0]),
		"birth date":    []byte(pa.BirthDate),
		"patient ID":    []byte(pa.ID),
		"old study UID": []byte(study.InstanceUID),
	}
	if found := grepTree(t, to, needles); len(found) > 0 {
		t.Errorf("the clinic received patient data: %v", found)
	}

	// Scan what arrived: one patient (the pseudonym), one study, every
	// instance with new UIDs.
	var dicomdirs []string
	filepath.WalkDir(to, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Name() == "DICOMDIR" {
			dicomdirs = append(dicomdirs, path)
		}
		return nil
	})
	if len(dicomdirs) != 1 {
		t.Fatalf("DICOMDIRs received: %v", dicomdirs)
	}
	if n := validate.DICOMDIR(t, dicomdirs[0]); n != study.Files {
		t.Errorf("DICOMDIR lists %d instances, want %d", n, study.Files)
	}
	m, err := dicomscan.Open(filepath.Dir(dicomdirs[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	got, err := dicomscan.Scan(context.Background(), m, dicomscan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Method != "dicomdir" || got.FallbackReason != "" {
		t.Errorf("received study read by %s (%s), want its DICOMDIR", got.Method, got.FallbackReason)
	}
	if len(got.Patients) != 1 || len(got.Patients[0].Studies) != 1 {
		t.Fatalf("received %d patients", len(got.Patients))
	}
	gp, gs := got.Patients[0], got.Patients[0].Studies[0]
	if gp.Name != pseudonym || gp.ID != pseudonym || gp.BirthDate != "" {
		t.Errorf("received patient %q id %q born %q, want the pseudonym", gp.Name, gp.ID, gp.BirthDate)
	}
	old := map[string]bool{study.InstanceUID: true}
	for _, se := range study.Series {
		old[se.InstanceUID] = true
		for _, in := range se.Instances {
			old[in.SOPInstanceUID] = true
		}
	}
	if old[gs.InstanceUID] || gs.Files != study.Files || len(gs.Series) != len(study.Series) {
		t.Errorf("received study %s with %d files in %d series, want a new UID, %d files in %d series",
			gs.InstanceUID, gs.Files, len(gs.Series), study.Files, len(study.Series))
	}
	seen := map[string]bool{}
	files := 0
	for _, se := range gs.Series {
		if old[se.InstanceUID] || seen[se.InstanceUID] {
			t.Errorf("series UID %s not new or twice", se.InstanceUID)
		}
		seen[se.InstanceUID] = true
		for _, in := range se.Instances {
			files++
			if old[in.SOPInstanceUID] || seen[in.SOPInstanceUID] {
				t.Errorf("SOP Instance UID %s not new or twice", in.SOPInstanceUID)
			}
			seen[in.SOPInstanceUID] = true
			if files <= 3 {
				validate.File(t, filepath.Join(filepath.Dir(dicomdirs[0]), filepath.FromSlash(in.Path)))
			}
		}
	}
	// The same send again maps the same study to another new UID (a new
	// session per send), and the lookup lists both.
	job2, err := practice.StartSend(context.Background(), app.SendRequest{
		Portal: p.url, Inbox: "bM1X", Index: ix, Studies: []string{study.InstanceUID},
		Sender: app.Sender{Name: "Praxis Dr. Weiß", Contact: "030 1234"}, Deidentify: &app.Deidentify{Pseudonym: pseudonym},
	})
	if err != nil {
		t.Fatal(err)
	}
	if d2 := wait(t, practice, job2); d2.State != app.StateDone {
		t.Fatalf("second send %+v", d2.Error)
	}
	if recs, _ := practice.DeidLookup(pseudonym); len(recs) != 2 {
		t.Errorf("lookup after two sends: %d records", len(recs))
	}
}

// TestDeidPolicyForcesInbox: deidentify_inboxes makes the core refuse a
// plain send to that inbox (any face), not to others; bad values are a
// malformed policy.
func TestDeidPolicyForcesInbox(t *testing.T) {
	p := startPortal(t, t.TempDir())
	newClinic(t, p, "bM1X")
	newClinic(t, p, "cN2Y")
	cdDir, _ := generateCD(t, gencd.MinFiles)
	pol := filepath.Join(t.TempDir(), "policy.toml")
	if err := os.WriteFile(pol, []byte(`deidentify_inboxes = ["bM1X"]`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	practice := openCore(t, app.Config{PolicyPath: pol})
	s := practice.Settings()
	if !s.DeidentifyRequired("bM1X") || s.DeidentifyRequired("cN2Y") || !practice.Policy().Locks(app.SettingDeidentifyInboxes) {
		t.Errorf("settings %+v", s.DeidentifyInboxes)
	}
	_, err := send(t, practice, p.url, "bM1X", cdDir, false)
	var ue *i18n.UserError
	if !errors.As(err, &ue) || ue.Key != "app.deid.required" || ue.Kind != i18n.KindRefused {
		t.Fatalf("plain send to a forced inbox: %v", err)
	}
	if msg := ue.Message(i18n.DE); !strings.Contains(msg, "bM1X") || !strings.Contains(ue.Hint(i18n.EN), "--deidentify") {
		t.Errorf("message %q hint %q", msg, ue.Hint(i18n.EN))
	}
	if j, err := send(t, practice, p.url, "cN2Y", cdDir, false); err != nil {
		t.Errorf("plain send to another inbox: %v", err)
	} else if d := wait(t, practice, j); d.State != app.StateDone {
		t.Errorf("plain send to another inbox: %+v", d.Error)
	}
	ix, err := practice.Scan(context.Background(), []string{cdDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := practice.StartSend(context.Background(), app.SendRequest{Portal: p.url, Inbox: "bM1X", Index: ix,
		Sender: app.Sender{Name: "Praxis", Contact: "1"}, Deidentify: &app.Deidentify{Pseudonym: "Tumorboard 7", Dates: app.DatesShift}})
	if err != nil {
		t.Fatal(err)
	}
	if d := wait(t, practice, j); d.State != app.StateDone || d.Detail.Send.Pseudonym != "Tumorboard 7" {
		t.Errorf("de-identified send to the forced inbox: %+v", d.Error)
	}
	// A pseudonym with an umlaut, a backslash or nothing is refused.
	for _, bad := range []string{"", "Müller", `a\b`, "x^y", strings.Repeat("a", 65)} {
		_, err := practice.StartSend(context.Background(), app.SendRequest{Portal: p.url, Inbox: "bM1X", Index: ix,
			Sender: app.Sender{Name: "Praxis", Contact: "1"}, Deidentify: &app.Deidentify{Pseudonym: bad}})
		if !isKind(err, i18n.KindInput) {
			t.Errorf("pseudonym %q: %v", bad, err)
		}
	}
	for _, bad := range []string{`deidentify_inboxes = ["no such!"]`, `deidentify_inboxes = "bM1X"`} {
		f := filepath.Join(t.TempDir(), "policy.toml")
		if err := os.WriteFile(f, []byte(bad+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := app.LoadPolicy(f); !errors.Is(err, app.ErrPolicy) {
			t.Errorf("policy %s: %v", bad, err)
		}
	}
}

// TestDeidBurnedInRefused: a series marked Burned In Annotation = YES
// (set with dcmtk's dcmodify) refuses a de-identified send that did not
// accept it, naming the files and the reason; accepted, it goes.
func TestDeidBurnedInRefused(t *testing.T) {
	p := startPortal(t, t.TempDir())
	newClinic(t, p, "bM1X")
	cdDir, _ := generateCD(t, gencd.MinFiles)
	practice := openCore(t, app.Config{})
	ix, err := practice.Scan(context.Background(), []string{cdDir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	se := ix.Patients[0].Studies[0].Series[0]
	for _, in := range se.Instances {
		f := filepath.Join(cdDir, filepath.FromSlash(in.Path))
		if out, err := exec.Command(corpus.Tool(t, "dcmodify"), "-nb", "-i", "(0028,0301)=YES", f).CombinedOutput(); err != nil {
			t.Fatalf("dcmodify: %v\n%s", err, out)
		}
	}
	ix, err = practice.Scan(context.Background(), []string{cdDir}, nil) // sizes changed
	if err != nil {
		t.Fatal(err)
	}
	req := app.SendRequest{Portal: p.url, Inbox: "bM1X", Index: ix, Sender: app.Sender{Name: "Praxis", Contact: "1"},
		Deidentify: &app.Deidentify{Pseudonym: "Lehre-1"}}
	_, err = practice.StartSend(context.Background(), req)
	var bi *app.BurnedInError
	if !errors.As(err, &bi) || !isKind(err, i18n.KindInput) {
		t.Fatalf("burned-in send: %v", err)
	}
	if bi.Files != len(se.Instances) || bi.Series != 1 || len(bi.Reasons) != 1 || bi.Reasons[0] != app.BurnedInAnnotation {
		t.Errorf("burned-in %+v, want %d files of 1 series", bi.BurnedIn, len(se.Instances))
	}
	ue, _ := i18n.AsUserError(err)
	for _, lang := range []i18n.Lang{i18n.DE, i18n.EN} {
		if msg := ue.Message(lang); !strings.Contains(msg, strconv.Itoa(len(se.Instances))+" ") || !strings.Contains(msg, "Burned In Annotation") && !strings.Contains(msg, "burned-in annotation") {
			t.Errorf("%s message %q", lang, msg)
		}
	}
	if _, err := os.Stat(filepath.Join(practice.StateDir(), "deid")); err == nil {
		t.Errorf("a refused send wrote a mapping")
	}
	req.Deidentify.AcceptBurnedIn = true
	j, err := practice.StartSend(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if d := wait(t, practice, j); d.State != app.StateDone {
		t.Errorf("accepted burned-in send: %+v", d.Error)
	}
}

// TestSendDeidentifiedFromZip: a CD given as a ZIP (no host files for the
// engine) is read through the medium; the clinic's list shows the
// pseudonyms and every instance plus the DICOMDIR.
func TestSendDeidentifiedFromZip(t *testing.T) {
	p := startPortal(t, t.TempDir())
	cl := newClinic(t, p, "bM1X")
	cdDir, cd := generateCD(t, gencd.MinFiles)
	zipPath := filepath.Join(t.TempDir(), "cd.zip")
	zf, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	if err := zw.AddFS(os.DirFS(cdDir)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zf.Close(); err != nil {
		t.Fatal(err)
	}
	practice := openCore(t, app.Config{})
	ix, err := practice.Scan(context.Background(), []string{zipPath}, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := practice.StartSend(context.Background(), app.SendRequest{Portal: p.url, Inbox: "bM1X", Index: ix,
		Sender: app.Sender{Name: "Praxis", Contact: "1"}, Deidentify: &app.Deidentify{Pseudonym: "Studie-A"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := wait(t, practice, j); d.State != app.StateDone {
		t.Fatalf("send from a ZIP: %+v", d.Error)
	}
	// The patients get their names in the index's order (the first one
	// the pseudonym itself), whatever the workers' race.
	recs, err := practice.DeidLookup("Studie-A")
	if err != nil || len(recs) != 1 || len(recs[0].Mapping.Patients) != len(ix.Patients) {
		t.Fatalf("lookup %+v %v", recs, err)
	}
	for i, pm := range recs[0].Mapping.Patients {
		if pm.OrigPatientID != ix.Patients[i].ID || (i == 0) != (pm.NewPatientName == "Studie-A") {
			t.Errorf("patient %d: %s became %s", i, pm.OrigPatientID, pm.NewPatientName)
		}
	}
	items, err := cl.core.InboxList(context.Background(), p.url, "bM1X", cl.apiKey)
	if err != nil || len(items) != 1 || items[0].Summary == nil {
		t.Fatalf("inbox %+v %v", items, err)
	}
	if s := items[0].Summary; s.Files != cd.Files+1 || s.Patients != len(cd.Patients) || !strings.HasPrefix(s.Patient, "Studie-A") {
		t.Errorf("summary %+v, want %d files of %d patients as Studie-A…", s, cd.Files+1, len(cd.Patients))
	}
}
