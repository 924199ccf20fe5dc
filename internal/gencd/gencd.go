// Package gencd writes a synthetic but realistic "patient CD" for tests,
// benchmarks and the portal's demo data (it lives outside internal/testkit
// because bildbote-portal's demo command ships it): two patients (one ISO_IR 100 with Latin-1 umlauts on disk, one
// ISO_IR 192 UTF-8), three studies (CT thorax, CT abdomen, MR head), ten
// series of CT Image Storage and MR Image Storage files in Explicit VR
// Little Endian under 8.3 upper-case names (DICOM/PAT00001/STU00001/
// SER00001/IMG00001), plus the clutter real CDs carry (AUTORUN.INF,
// README.TXT, VIEWER/VIEWER.EXE) and optionally a PDF report and a DICOMDIR
// made by dcmtk's dcmmkdir (STD-GEN-CD).
//
// Guarantees: the same Options (seed included) give byte-identical files,
// whatever the number of workers (the DICOMDIR's own Media Storage SOP
// Instance UID is the one exception: dcmmkdir makes it up); every file passes dciodvfy without errors and dcentvfy across each
// patient; the pixel data is an anatomical phantom with noise, so it
// compresses like a real image (zstd about 2–3x), not like zeros. Nothing
// here is real patient data. The Result is the truth a scanner's output
// can be compared with.
package gencd

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

// Options control what Generate writes. The zero value gives the default
// CD: 2000 files of realistic size, seed 0, no DICOMDIR, no PDF.
type Options struct {
	// Files is the total number of DICOM instance files (default 2000). It
	// must be at least the number of series (MinFiles).
	Files int
	// Seed makes UIDs, IDs, dates and noise; same seed, same bytes.
	Seed int64
	// DICOMDIR runs dcmmkdir (dcmtk, STD-GEN-CD profile) to index the
	// DICOM/ tree into a DICOMDIR at the root. dcmmkdir is the slow part of
	// a large CD: about 2 s for 2000 files but minutes for 20000 (it grows
	// faster than linearly with the files per series).
	DICOMDIR bool
	// Documents adds a small valid PDF report at REPORT/BEFUND.PDF.
	Documents bool
	// PixelSize, when > 0, makes every image PixelSize×PixelSize instead of
	// 512×512 (CT) and 360×360 (MR), for quick tests. The field of view stays.
	PixelSize int
	// Workers is the number of files written in parallel (default GOMAXPROCS).
	Workers int
}

// MinFiles is the smallest Files value: one file per series.
var MinFiles = seriesCount(catalogue())

// Result is what Generate wrote. Paths are slash-separated and relative to
// the output directory.
type Result struct {
	Dir      string
	Patients []*Patient
	Files    int   // DICOM instance files
	Bytes    int64 // their total size
	// DICOMDIR is "DICOMDIR" when one was made, otherwise empty.
	DICOMDIR string
	// Documents are non-DICOM files worth keeping (the PDF report).
	Documents []File
	// Clutter are the other non-DICOM files of a CD (autorun, readme, viewer).
	Clutter []File
}

// Patient is one patient with the values as written.
type Patient struct {
	Name         string // UTF-8, PN with ^ separators
	NameOnDisk   []byte // the Patient's Name value bytes in the file (Latin-1 for ISO_IR 100)
	ID           string
	BirthDate    string // YYYYMMDD
	Sex          string
	CharacterSet string // Specific Character Set, "ISO_IR 100" or "ISO_IR 192"
	Studies      []*Study
}

// Study is one study.
type Study struct {
	InstanceUID        string
	StudyID            string
	Date, Time         string
	Description        string // UTF-8
	AccessionNumber    string
	ReferringPhysician string // UTF-8
	Modalities         []string
	Series             []*Series
	Files              int
	Bytes              int64
}

// Series is one series.
type Series struct {
	InstanceUID string
	Number      int
	Modality    string
	Description string // UTF-8
	BodyPart    string
	Rows, Cols  int
	Instances   []*Instance
	Bytes       int64
}

// Instance is one DICOM file.
type Instance struct {
	SOPInstanceUID string
	SOPClassUID    string
	Number         int
	Path           string
	Size           int64
}

// File is a non-DICOM file.
type File struct {
	Path     string
	Size     int64
	MIMEType string
}

// AllInstances returns every instance in patient/study/series order.
func (r *Result) AllInstances() []*Instance {
	var out []*Instance
	for _, p := range r.Patients {
		for _, st := range p.Studies {
			for _, se := range st.Series {
				out = append(out, se.Instances...)
			}
		}
	}
	return out
}

// Generate writes the CD into dir and returns what it wrote. dir is created
// if needed; give it an empty one: files of the same names are
// overwritten, other files are left alone (and would then be on the CD).
func Generate(dir string, opt Options) (*Result, error) {
	if opt.Files == 0 {
		opt.Files = 2000
	}
	if opt.Files < MinFiles {
		return nil, fmt.Errorf("gencd: %d files requested, need at least %d (one per series)", opt.Files, MinFiles)
	}
	if opt.PixelSize < 0 || opt.PixelSize > 4096 {
		return nil, fmt.Errorf("gencd: pixel size %d out of range", opt.PixelSize)
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	res, jobs, err := plan(dir, opt)
	if err != nil {
		return nil, err
	}
	if err := makeDirs(dir, jobs); err != nil {
		return nil, err
	}
	if err := writeAll(dir, jobs, opt.Workers); err != nil {
		return nil, err
	}
	res.total()
	if err := writeClutter(dir, res, opt); err != nil {
		return nil, err
	}
	if opt.DICOMDIR {
		if err := makeDICOMDIR(dir); err != nil {
			return nil, err
		}
		res.DICOMDIR = "DICOMDIR"
	}
	return res, nil
}

// job is one instance file to write.
type job struct {
	inst   *Instance
	series *Series
	study  *Study
	pat    *Patient
	pspec  *patientSpec
	sspec  *seriesSpec
	paint  *painter // shared by the series
	index  int      // 0-based position in the series
	count  int      // images in the series
	acqNo  int
}

// plan lays out patients, studies, series and instances with their UIDs
// and paths, drawing IDs and dates from the seed.
func plan(dir string, opt Options) (*Result, []job, error) {
	cat := catalogue()
	counts := distribute(opt.Files, seriesWeights(cat))
	if slices.Max(counts) > maxPerSeries {
		return nil, nil, fmt.Errorf("gencd: %d files would put more than %d in one series (IMGnnnnn names)", opt.Files, maxPerSeries)
	}
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x6765_6e63_6400))
	res := &Result{Dir: dir}
	var jobs []job
	k := 0
	for pi := range cat {
		ps := &cat[pi]
		pat := &Patient{
			Name: ps.name, ID: digits(rng, 8), BirthDate: ps.birthDate, Sex: ps.sex,
			CharacterSet: ps.characterSet, NameOnDisk: encodeText(ps.characterSet, ps.name),
		}
		res.Patients = append(res.Patients, pat)
		clock := drawDate(rng)
		for sti, sts := range ps.studies {
			st := &Study{
				InstanceUID: uidFrom(opt.Seed, fmt.Sprintf("study/%d/%d", pi, sti)),
				StudyID:     digits(rng, 5), Date: clock.date, Time: addMinutes(clock.time, 25*sti),
				Description: sts.description, AccessionNumber: digits(rng, 10),
				ReferringPhysician: ps.referring,
			}
			pat.Studies = append(pat.Studies, st)
			for sei := range sts.series {
				ss := &sts.series[sei]
				n := counts[k]
				k++
				size := matrix(ss, opt.PixelSize)
				se := &Series{
					InstanceUID: uidFrom(opt.Seed, fmt.Sprintf("series/%d/%d/%d", pi, sti, sei)),
					Number:      sei + 1, Modality: ss.modality, Description: ss.description,
					BodyPart: ss.bodyPart, Rows: size, Cols: size,
				}
				if !contains(st.Modalities, ss.modality) {
					st.Modalities = append(st.Modalities, ss.modality)
				}
				st.Series = append(st.Series, se)
				paint := newPainter(ss)
				for i := 0; i < n; i++ {
					inst := &Instance{
						SOPInstanceUID: uidFrom(opt.Seed, fmt.Sprintf("instance/%d/%d/%d/%d", pi, sti, sei, i)),
						SOPClassUID:    sopClass(ss.modality),
						Number:         i + 1,
						Path: fmt.Sprintf("DICOM/PAT%05d/STU%05d/SER%05d/IMG%05d",
							pi+1, sti+1, sei+1, i+1),
					}
					se.Instances = append(se.Instances, inst)
					jobs = append(jobs, job{inst: inst, series: se, study: st, pat: pat,
						pspec: ps, sspec: ss, paint: paint, index: i, count: n, acqNo: 1})
				}
			}
		}
	}
	return res, jobs, nil
}

// maxPerSeries keeps image file IDs at 8 characters (IMG99999).
const maxPerSeries = 99999

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sopClass(modality string) string {
	if modality == "MR" {
		return mrImageStorage
	}
	return ctImageStorage
}

// matrix is the image size of a series.
func matrix(ss *seriesSpec, override int) int {
	switch {
	case override > 0:
		return override
	case ss.modality == "MR":
		return 360
	}
	return 512
}

// addMinutes adds m minutes to an HHMMSS time (same day, clamped to 23:59).
func addMinutes(hhmmss string, m int) string {
	h, _ := strconv.Atoi(hhmmss[0:2])
	mi, _ := strconv.Atoi(hhmmss[2:4])
	t := min(h*60+mi+m, 23*60+59)
	return fmt.Sprintf("%02d%02d%s", t/60, t%60, hhmmss[4:6])
}

// makeDirs creates every series folder up front so workers only write files.
func makeDirs(dir string, jobs []job) error {
	seen := map[string]bool{}
	for _, j := range jobs {
		d := filepath.Dir(filepath.Join(dir, filepath.FromSlash(j.inst.Path)))
		if seen[d] {
			continue
		}
		seen[d] = true
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("gencd: %w", err)
		}
	}
	return nil
}

// writeAll writes the instance files with a pool of workers, each reusing
// one buffer: the whole file is built in memory and written with one call.
func writeAll(dir string, jobs []job, workers int) error {
	ch := make(chan *job)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var wr writer
			for j := range ch {
				if errs[w] != nil {
					continue
				}
				errs[w] = wr.write(dir, j)
			}
		}(w)
	}
	for i := range jobs {
		ch <- &jobs[i]
	}
	close(ch)
	wg.Wait()
	return errors.Join(errs...)
}

// total sums files and bytes up the tree.
func (r *Result) total() {
	r.Files, r.Bytes = 0, 0
	for _, p := range r.Patients {
		for _, st := range p.Studies {
			st.Files, st.Bytes = 0, 0
			for _, se := range st.Series {
				se.Bytes = 0
				for _, in := range se.Instances {
					se.Bytes += in.Size
				}
				st.Files += len(se.Instances)
				st.Bytes += se.Bytes
			}
			r.Files += st.Files
			r.Bytes += st.Bytes
		}
	}
}
