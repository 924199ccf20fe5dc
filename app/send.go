package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/bildbote/bildbote/crypto"
	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/internal/i18n"
	"github.com/bildbote/bildbote/internal/wire"
	"github.com/bildbote/bildbote/transfer"
	"github.com/bildbote/bildbote/transfer/envelope"
	"github.com/bildbote/bildbote/transfer/inbox"
	"github.com/bildbote/bildbote/transfer/ratelimit"
	"github.com/bildbote/bildbote/transfer/tus"
)

func init() {
	kinds[KindSend] = kindSpec{run: runSend, cleanup: cleanupSend}
}

// sendParams is a send job's resumable state. No secrets: the inbox
// password, when one is needed, is kept in memory only.
type sendParams struct {
	Portal        string   `json:"portal"`
	Inbox         string   `json:"inbox"`
	CommunityName string   `json:"communityName"`
	UploadURL     string   `json:"uploadEndpoint"`
	Recipients    []string `json:"recipients"`
	// Sources are the paths the index was scanned from: a send killed
	// before its envelope was sealed scans them again.
	Sources []string `json:"sources"`
	Studies []string `json:"studies,omitempty"`

	// No patient data here: the manifest's patient is taken from the
	// index when sealing (the job store is not a patient record).
	Sender   envelope.Sender   `json:"sender"`
	Referrer envelope.Referrer `json:"referrer"`
	Message  string            `json:"message,omitempty"`

	Spool   string `json:"spool"`
	Sealed  bool   `json:"sealed"`
	Size    int64  `json:"size,omitempty"`
	SHA256  string `json:"sha256,omitempty"`
	Files   int    `json:"files,omitempty"`
	NStudy  int    `json:"nStudies,omitempty"`
	TusURL  string `json:"tusURL,omitempty"`
	Pending bool   `json:"passwordRequired,omitempty"`
	// Deid: sealed de-identified (app/deid.go); nil for a plain send.
	Deid *Deidentify `json:"deid,omitempty"`
}

func (c *Core) pinStore() *crypto.PinStore {
	return crypto.NewPinStore(crypto.PinFile(filepath.Join(c.stateDir, "pins.json")), c.Settings().PinnedKeys)
}

// LookupCommunity asks the portal ("" = configured) for an inbox by code
// and compares its key with the pin (without pinning yet).
func (c *Core) LookupCommunity(ctx context.Context, portal, code string) (*Community, error) {
	root, err := c.portalRoot(portal)
	if err != nil {
		return nil, err
	}
	lctx, cancel := c.lookupContext(ctx)
	defer cancel()
	ic := c.inboxClient(root, "", nil)
	ic.Retry.MaxAttempts = 2 // a person waits: few retries, then say so
	wc, err := ic.Community(lctx, strings.TrimSpace(code))
	if err != nil {
		return nil, c.lookupError(ctx, root, err)
	}
	return c.community(root, wc)
}

// SearchCommunities finds inboxes by name.
func (c *Core) SearchCommunities(ctx context.Context, portal, query string) ([]Community, error) {
	root, err := c.portalRoot(portal)
	if err != nil {
		return nil, err
	}
	lctx, cancel := c.lookupContext(ctx)
	defer cancel()
	ic := c.inboxClient(root, "", nil)
	ic.Retry.MaxAttempts = 2
	wcs, err := ic.Search(lctx, query)
	if err != nil {
		return nil, c.lookupError(ctx, root, err)
	}
	out := make([]Community, 0, len(wcs))
	for i := range wcs {
		cm, err := c.community(root, &wcs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *cm)
	}
	return out, nil
}

func (c *Core) community(root string, wc *inbox.Community) (*Community, error) {
	cm := &Community{Portal: root, Code: wc.Code, Name: wc.Name, MaxUploadBytes: wc.MaxUploadBytes, PasswordRequired: wc.PasswordRequired}
	var recips []string
	for _, r := range wc.Recipients {
		// The fingerprint is computed here, never taken from the portal.
		cm.Recipients = append(cm.Recipients, Recipient{Recipient: r.Recipient, Fingerprint: crypto.Fingerprint(r.Recipient)})
		recips = append(recips, r.Recipient)
	}
	if len(recips) == 0 {
		return nil, i18n.NewError(i18n.KindRefused, "app.inbox-no-key", wc.Code)
	}
	cm.Fingerprint = crypto.CommunityFingerprint(recips)
	pinned, _, err := c.pinStore().Pinned(wc.Code)
	if err != nil {
		return nil, err
	}
	switch {
	case pinned == "":
		cm.Pin = PinNew
	case crypto.FingerprintsEqual(pinned, cm.Fingerprint):
		cm.Pin = PinMatch
	default:
		cm.Pin, cm.PinnedFingerprint = PinChanged, pinned
	}
	return cm, nil
}

// StartSend checks the community's key against its pin (trust on first
// use; a changed key is refused unless req.AcceptNewKey), remembers the
// sender fields, and starts a send job that seals the chosen studies once
// into the spool and uploads the envelope with tus.
func (c *Core) StartSend(ctx context.Context, req SendRequest) (*Job, error) {
	if req.Index == nil {
		return nil, i18n.NewError(i18n.KindInput, "app.send-nothing")
	}
	sources := c.sourcesOf(req.Index)
	if req.Index.FS() == nil || len(sources) == 0 {
		return nil, i18n.NewError(i18n.KindInput, "app.send-rescan").WithHint("app.send-rescan.hint")
	}
	root, err := c.portalRoot(req.Portal)
	if err != nil {
		return nil, err
	}
	wc, err := c.fetchCommunity(ctx, root, strings.TrimSpace(req.Inbox))
	if err != nil {
		return nil, err
	}
	var recips []string
	for _, r := range wc.Recipients {
		recips = append(recips, r.Recipient)
	}
	if err := c.checkPin(wc.Code, recips, req.AcceptNewKey); err != nil {
		return nil, err
	}
	if wc.PasswordRequired && req.Password == "" {
		return nil, i18n.NewError(i18n.KindInput, "app.inbox-password").WithHint("app.inbox-password.hint")
	}
	studies, files, bytes, _ := selection(req.Index, req.Studies)
	if studies == 0 {
		return nil, i18n.NewError(i18n.KindInput, "app.send-nothing")
	}
	dei, err := c.startDeid(ctx, wc.Code, &req)
	if err != nil {
		return nil, err
	}
	if wc.MaxUploadBytes > 0 && bytes > wc.MaxUploadBytes {
		return nil, i18n.NewError(i18n.KindRefused, "app.send-too-large", i18n.Bytes(bytes), wc.Name, i18n.Bytes(wc.MaxUploadBytes)).
			WithHint("transfer.tus.too_large.hint")
	}
	c.UpdateSettings(func(s *Settings) {
		s.SenderName, s.SenderContact, s.Referrer = req.Sender.Name, req.Sender.Contact, req.Referrer
	})
	endpoint := wc.UploadURL
	p := sendParams{
		Portal: root, Inbox: wc.Code, CommunityName: wc.Name, UploadURL: endpoint, Recipients: recips,
		Sources: sources, Studies: req.Studies,
		Sender:   envelope.Sender{Name: req.Sender.Name, Practice: req.Sender.Name, Phone: req.Sender.Contact},
		Referrer: envelope.Referrer{Name: req.Referrer},
		Message:  strings.TrimSpace(req.Message + "\n" + req.Patient),
		Files:    files, NStudy: studies, Pending: wc.PasswordRequired, Deid: dei,
	}
	title := titled("app.job.title.send", wc.Code, wc.Name, strconv.Itoa(studies))
	id := newJobID()
	p.Spool = filepath.Join(c.stateDir, "spool", id+".age")
	if req.Password != "" {
		c.mu.Lock()
		c.secrets["password:"+id] = req.Password
		c.mu.Unlock()
	}
	return c.addJobWithID(id, KindSend, title, p, func(r *jobRun) { r.bytesTotal.Store(bytes) }, req.Index)
}

// checkPin pins on first use and refuses a changed key unless accepted.
func (c *Core) checkPin(code string, recips []string, accept bool) error {
	pins := c.pinStore()
	_, err := pins.Check(code, recips)
	var kc *crypto.KeyChangedError
	if errors.As(err, &kc) && accept && !kc.Policy {
		if err := pins.Forget(code); err != nil {
			return err
		}
		_, err = pins.Check(code, recips)
	}
	return err
}

// selection counts the chosen studies and describes their patient.
func selection(ix *dicomscan.Index, uids []string) (studies, files int, bytes int64, patient envelope.Patient) {
	want := map[string]bool{}
	for _, u := range uids {
		want[u] = true
	}
	for _, pa := range ix.Patients {
		for _, st := range pa.Studies {
			if len(want) > 0 && !want[st.InstanceUID] {
				continue
			}
			if studies == 0 {
				patient = envelope.Patient{Name: pa.Name, ID: pa.ID, BirthDate: pa.BirthDate, Sex: pa.Sex}
			}
			studies++
			files += st.Files
			bytes += st.Bytes
		}
	}
	return
}

func runSend(ctx context.Context, r *jobRun) error {
	c := r.core
	var p sendParams
	if err := r.Params(&p); err != nil {
		return err
	}
	if !p.Sealed {
		if err := c.seal(ctx, r, &p); err != nil {
			return err
		}
	}
	f, err := os.Open(p.Spool)
	if err != nil {
		return i18n.NewError(i18n.KindRefused, "app.spool-missing").WithHint("app.spool-missing.hint").Wrap(err)
	}
	defer f.Close()
	r.SetTotal(p.Size)
	meta := map[string]string{wire.MetaCommunity: p.Inbox, wire.MetaSHA256: p.SHA256, wire.MetaFilename: "envelope.age"}
	if p.Pending {
		c.mu.Lock()
		pw := c.secrets["password:"+r.id]
		c.mu.Unlock()
		if pw == "" {
			return i18n.NewError(i18n.KindInput, "app.inbox-password").WithHint("app.inbox-password.hint")
		}
		meta["password"] = pw
	}
	client := &tus.Client{HTTP: c.client, Bandwidth: c.bandwidth(), Chunks: c.chunkMemory()}
	client.Retry.Initial = c.cfg.RetryInitial
	client.Retry.MaxElapsed, client.Retry.MaxBusy = c.networkBound(), c.busyBound()
	client.Progress = transfer.ProgressFunc(func(s transfer.Status) {
		if s.State != transfer.StateDone {
			r.SetPhase(string(s.State))
		}
		r.SetWait(s.Wait) // set while waiting for the network: "next try in …"
		if s.State == transfer.StateUploading || s.State == transfer.StateDone {
			r.SetDone(s.Done)
		}
	})
	res, err := client.Upload(ctx, tus.Job{
		Endpoint: p.UploadURL, Metadata: meta, File: f, Size: p.Size, URL: p.TusURL, Secret: loadUploadSecret(p.Spool),
		OnCreated: func(u, secret string) error {
			if err := saveUploadSecret(p.Spool, secret); err != nil {
				return err
			}
			p.TusURL = u
			return r.SaveParams(p)
		},
	})
	if err != nil {
		return err
	}
	irc, err := c.inboxClient(p.Portal, "", nil).Receipt(ctx, res.ID)
	if err != nil {
		return err
	}
	r.SetReceipt(&Receipt{Upload: &UploadReceipt{ID: irc.ID, Community: irc.Community, CommunityName: irc.CommunityName,
		Size: irc.Size, SHA256: irc.SHA256, ReceivedAt: irc.ReceivedAt, Portal: p.Portal, Studies: p.NStudy, Files: p.Files}})
	f.Close()
	os.Remove(p.Spool)
	removeUploadSecret(p.Spool)
	c.mu.Lock()
	delete(c.secrets, "password:"+r.id)
	c.mu.Unlock()
	return nil
}

// seal writes the envelope to the spool. The index comes from memory, or
// from a new scan of the sources when the process was restarted.
func (c *Core) seal(ctx context.Context, r *jobRun, p *sendParams) (err error) {
	ix := c.jobIndex(r.id)
	if ix == nil {
		ix, err = c.scan(ctx, p.Sources, nil)
		if err != nil {
			return err
		}
		defer c.Release(ix)
	}
	_, _, _, patient := selection(ix, p.Studies)
	in := envelope.SealInput{Index: ix, Studies: p.Studies, Sender: p.Sender, Patient: patient,
		Referrer: p.Referrer, Message: p.Message, Recipients: p.Recipients}
	for _, d := range ix.Documents {
		in.Documents = append(in.Documents, d.Path)
	}
	if p.Deid != nil { // the per-send transform step: de-identified copies are sealed
		var done func()
		if in, done, err = c.deidentify(ctx, r, p, in); err != nil {
			return err
		}
		defer done()
	}
	res, err := envelope.Seal(ctx, in, p.Spool, transfer.ProgressFunc(func(s transfer.Status) {
		if s.State != transfer.StateDone {
			r.SetPhase(string(s.State))
		}
		r.SetTotal(s.Total)
		r.SetDone(s.Done)
	}))
	if err != nil {
		return err
	}
	p.Sealed, p.Size, p.SHA256 = true, res.Size, res.SHA256
	r.SetDone(0)
	c.forgetJobIndex(r.id)
	return r.SaveParams(p)
}

// chunkMemories holds one tus.ChunkFile per state dir, shared by the
// sends of that dir (a send behind a proxy's body limit halves its chunk;
// the next send to that portal starts with the size that passed).
var chunkMemories sync.Map

// chunkMemory is the state dir's chunks.json (portal origin → bytes).
func (c *Core) chunkMemory() *tus.ChunkFile {
	p := filepath.Join(c.stateDir, "chunks.json")
	m, _ := chunkMemories.LoadOrStore(p, tus.NewChunkFile(p))
	return m.(*tus.ChunkFile)
}

func (c *Core) bandwidth() *ratelimit.Bucket {
	kbps := c.Settings().BandwidthLimitKbps
	if kbps <= 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bucket == nil || c.bucketKbps != kbps {
		c.bucket, c.bucketKbps = ratelimit.New(int64(kbps)*1000/8), kbps
	}
	return c.bucket
}

func cleanupSend(j *Job) {
	var p sendParams
	if jsonUnmarshal(j.params, &p) == nil && p.Spool != "" {
		os.Remove(p.Spool)
		removeUploadSecret(p.Spool)
		os.RemoveAll(deidWork(p.Spool))
	}
}

// sourcesOf returns the paths an index was scanned from.
func (c *Core) sourcesOf(ix *dicomscan.Index) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.sources[ix]...)
}

func (c *Core) jobIndex(id string) *dicomscan.Index {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.jobIndexes[id]
}

func (c *Core) forgetJobIndex(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.jobIndexes, id)
}
