package portal

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/bildbote/bildbote/dicomscan"
	"github.com/bildbote/bildbote/dicomscan/pdi"
)

// allItemsID names the ZIP of every item of a code (downloadall).
const allItemsID = "all"

// preparer builds the IHE PDI ZIPs of a code's studies into files in the
// background, one at a time per ZIP; downloads meanwhile get 503 with a
// time to come back.
type preparer struct {
	s    *Server
	mu   sync.Mutex
	jobs map[string]*prepJob
	wg   sync.WaitGroup
	// slots bounds how many ZIPs are built at once (disk and CPU bound:
	// more in parallel only makes each slower).
	slots chan struct{}
	// ctx ends with the server: running builds stop, their temporary
	// files go.
	ctx    context.Context
	cancel context.CancelFunc
}

// maxParallelBuilds is the number of ZIPs built at the same time.
const maxParallelBuilds = 2

type prepJob struct {
	done bool
	err  error
	eta  int // seconds, estimated when started
}

func newPreparer(s *Server) *preparer {
	ctx, cancel := context.WithCancel(context.Background())
	return &preparer{s: s, jobs: map[string]*prepJob{}, slots: make(chan struct{}, maxParallelBuilds), ctx: ctx, cancel: cancel}
}

func (p *preparer) zipPath(recordID, itemID string) string {
	return filepath.Join(RecordDir(p.s.cfg.DataDir, recordID), "zip", itemID+".zip")
}

// ready returns the path of the finished ZIP, or, while it is being
// built, the seconds to wait. A failed build is reported once and retried
// on the next request.
func (p *preparer) ready(rec *codeRecord, itemID string) (path string, wait int, err error) {
	path = p.zipPath(rec.ID, itemID)
	if _, err := os.Stat(path); err == nil {
		return path, 0, nil
	}
	key := rec.ID + "/" + itemID
	p.mu.Lock()
	defer p.mu.Unlock()
	job := p.jobs[key]
	if job != nil && job.done {
		delete(p.jobs, key)
		if job.err != nil {
			return "", 0, job.err
		}
		return path, 0, nil
	}
	if job == nil {
		job = p.startLocked(rec, itemID)
	}
	return "", job.eta, nil
}

// start begins building a ZIP unless it exists or is being built.
func (p *preparer) start(rec *codeRecord, itemID string) {
	if _, err := os.Stat(p.zipPath(rec.ID, itemID)); err == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.jobs[rec.ID+"/"+itemID] == nil {
		p.startLocked(rec, itemID)
	}
}

func (p *preparer) startLocked(rec *codeRecord, itemID string) *prepJob {
	job := &prepJob{eta: estimateSeconds(rec, itemID)}
	p.jobs[rec.ID+"/"+itemID] = job
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var err error
		select {
		case p.slots <- struct{}{}:
			err = p.build(rec, itemID)
			<-p.slots
		case <-p.ctx.Done():
			err = p.ctx.Err()
		}
		if err != nil {
			p.s.cfg.Logger.Error("prepare zip", "record", rec.ID, "err", err)
		}
		p.mu.Lock()
		job.done, job.err = true, err
		p.mu.Unlock()
	}()
	return job
}

// estimateSeconds guesses the build time at 50 MB/s, at least 1 second.
func estimateSeconds(rec *codeRecord, itemID string) int {
	var size int64
	for _, it := range rec.Items {
		if itemID == allItemsID || it.ID == itemID {
			size += it.Size
		}
	}
	return int(size/(50<<20)) + 1
}

// forget drops finished jobs of a record (after its files were deleted).
func (p *preparer) forget(recordID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, j := range p.jobs {
		if j.done && filepath.Dir(k) == recordID {
			delete(p.jobs, k)
		}
	}
}

func (p *preparer) wait() { p.wg.Wait() }

// stop cancels running builds and waits for them.
func (p *preparer) stop() {
	p.cancel()
	p.wg.Wait()
}

// build writes the ZIP to a temporary file and renames it into place, so
// a ZIP that exists is always complete.
func (p *preparer) build(rec *codeRecord, itemID string) error {
	idx, err := loadRecordIndex(p.s.cfg.DataDir, rec.ID)
	if err != nil {
		return err
	}
	// One study per item; downloadall holds every study and the reports.
	opts := pdi.Options{Time: rec.CreatedAt, IncludeDocuments: itemID == allItemsID}
	for _, it := range rec.Items {
		if it.ID == itemID {
			opts.Studies = []string{it.StudyUID}
		}
	}
	dst := p.zipPath(rec.ID, itemID)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".building-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Hour)
	defer cancel()
	write := func() error { _, err := pdi.WriteZip(ctx, tmp, idx, opts); return err }
	if len(idx.Patients) == 0 {
		// Reports only: there is no DICOM file-set to make, so the ZIP
		// holds just the PDFs (under IHE_PDI/, as they would be).
		write = func() error { return writeDocumentsZip(ctx, tmp, idx) }
	}
	if err := write(); err != nil {
		tmp.Close()
		return fmt.Errorf("write zip: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

// removeUnfinishedBuilds deletes temporary ZIPs a crash left behind (a
// ZIP under its final name is always complete).
func removeUnfinishedBuilds(dataDir string) {
	leftovers, _ := filepath.Glob(filepath.Join(dataDir, codesDir, "*", "zip", ".building-*"))
	for _, f := range leftovers {
		os.Remove(f)
	}
}

// prepareAllMissing starts the ZIPs of every live code that lacks them.
func (s *Server) prepareAllMissing() {
	recs, err := s.store.allCodes()
	if err != nil {
		return
	}
	now := time.Now()
	for i := range recs {
		if recs[i].Revoked || !now.Before(recs[i].ExpiresAt) {
			continue
		}
		s.prepareRecord(&recs[i])
	}
}

func (s *Server) prepareRecord(rec *codeRecord) {
	for _, it := range rec.Items {
		if it.Kind == KindStudy {
			s.prep.start(rec, it.ID)
		}
	}
}

// recordIndexFile is the scan of a code's files, written when it is issued.
const recordIndexFile = "index.json"

// loadRecordIndex reads the stored index of a code and attaches its src/
// folder as the medium.
func loadRecordIndex(dataDir, recordID string) (*dicomscan.Index, error) {
	dir := RecordDir(dataDir, recordID)
	f, err := os.Open(filepath.Join(dir, recordIndexFile))
	if err != nil {
		return nil, fmt.Errorf("index of code: %w", err)
	}
	defer f.Close()
	var idx dicomscan.Index
	if err := json.NewDecoder(io.LimitReader(f, 256<<20)).Decode(&idx); err != nil {
		return nil, fmt.Errorf("index of code: %w", err)
	}
	idx.SetFS(os.DirFS(filepath.Join(dir, "src")))
	return &idx, nil
}

// writeDocumentsZip writes the index's documents into a ZIP under IHE_PDI/.
func writeDocumentsZip(ctx context.Context, w io.Writer, idx *dicomscan.Index) error {
	zw := zip.NewWriter(w)
	used := map[string]bool{}
	for _, d := range idx.Documents {
		name := "IHE_PDI/" + path.Base(d.Path)
		for i := 2; used[name]; i++ {
			name = fmt.Sprintf("IHE_PDI/%d_%s", i, path.Base(d.Path))
		}
		used[name] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		in, err := idx.FS().Open(d.Path)
		if err != nil {
			return err
		}
		out, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate})
		if err == nil {
			_, err = io.Copy(out, in)
		}
		in.Close()
		if err != nil {
			return err
		}
	}
	return zw.Close()
}
