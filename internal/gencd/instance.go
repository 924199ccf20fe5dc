package gencd

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// writer builds and writes instance files, reusing its buffers.
type writer struct {
	buf    []byte
	rowBuf []int32
}

// Field of view per plane and modality, mm.
const (
	ctFOV      = 380.0
	mrAxialFOV = 230.0
	mrSagFOV   = 256.0
	// ctIntercept is the Rescale Intercept: stored value 0 is -1024 HU.
	ctIntercept = -1024.0
	bitsStored  = 12
)

// write builds one file in memory (every byte is overwritten, so the
// reused buffer needs no clearing) and writes it with one call.
func (w *writer) write(dir string, j *job) error {
	g := j.geometry()
	ds := j.header(g)
	pixelBytes := 2 * g.rows * g.cols
	b := appendFileHeader(w.buf[:0], j.inst.SOPClassUID, j.inst.SOPInstanceUID)
	b = ds.appendTo(b)
	b = appendPixelDataHeader(b, pixelBytes)
	start := len(b)
	b = slices.Grow(b, pixelBytes)[:start+pixelBytes]
	if cap(w.rowBuf) < g.cols {
		w.rowBuf = make([]int32, g.cols)
	}
	j.paint.paint(b[start:], g, newXorshift(seedFor(0, j.inst.SOPInstanceUID)), w.rowBuf)
	w.buf = b
	path := filepath.Join(dir, filepath.FromSlash(j.inst.Path))
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("gencd: %w", err)
	}
	j.inst.Size = int64(len(b))
	return nil
}

// position is the slice position along the plane normal.
func (j *job) position() float64 {
	ss := j.sspec
	if j.count == 1 {
		return (ss.from + ss.to) / 2
	}
	return ss.from + (ss.to-ss.from)*float64(j.index)/float64(j.count-1)
}

func (j *job) geometry() geometry {
	ss := j.sspec
	n := j.series.Rows
	fov := ctFOV
	if ss.modality == "MR" {
		fov = mrAxialFOV
		if ss.plane == sagittal {
			fov = mrSagFOV
		}
	}
	ps := fov / float64(n)
	half := fov/2 - ps/2
	pos := j.position()
	g := geometry{rows: n, cols: n, spacing: ps}
	switch ss.plane {
	case axial:
		g.rowDir, g.colDir = [3]float64{1, 0, 0}, [3]float64{0, 1, 0}
		g.origin = [3]float64{-half, -half, pos}
	case coronal:
		g.rowDir, g.colDir = [3]float64{1, 0, 0}, [3]float64{0, 0, -1}
		g.origin = [3]float64{-half, pos, (ss.from+ss.to)/2 + half}
		if ss.modality == "CT" {
			g.origin[2] = -230 + half // centre of the thorax
		}
	case sagittal:
		g.rowDir, g.colDir = [3]float64{0, 1, 0}, [3]float64{0, 0, -1}
		g.origin = [3]float64{pos, -half, 20 + half} // centre of the head
	}
	return g
}

// newPainter renders the images of one series.
func newPainter(ss *seriesSpec) *painter {
	if ss.modality == "MR" {
		return &painter{blobs: head, value: ss.mr.tissue, noise: ss.noise, bgSigma: ss.noise / 2, magnitude: true, maxStored: 1<<bitsStored - 1}
	}
	phase := 0
	if ss.contrast {
		phase = 1
	}
	v := make(map[tissue]float64, len(ctHU))
	for t, hu := range ctHU {
		v[t] = hu[phase]
	}
	return &painter{blobs: torso, value: v, background: ctHU[air][0], offset: -ctIntercept, noise: ss.noise, bgSigma: ss.noise / 2, maxStored: 1<<bitsStored - 1, fovCircle: true}
}

// Tags written, named for readability.
const (
	tagSpecificCharacterSet = 0x00080005
	tagPatientName          = 0x00100010
)

// header builds every attribute except the meta group and pixel data.
func (j *job) header(g geometry) *dataset {
	ss, ps, st, pat := j.sspec, j.pspec, j.study, j.pat
	cs := ps.characterSet
	text := func(d *dataset, tag uint32, vr, s string) { d.bytes(tag, vr, encodeText(cs, s)) }
	seriesTime := addMinutes(st.Time, 3*(j.series.Number-1)+1)
	contentTime := fracTime(seriesTime, j.index)
	d := &dataset{elems: make([]element, 0, 96)}

	// SOP Common, General Image, General Study/Series, Equipment.
	d.str(tagSpecificCharacterSet, "CS", cs)
	d.str(0x00080008, "CS", imageType(ss))
	d.str(0x00080012, "DA", st.Date)
	d.str(0x00080013, "TM", st.Time)
	d.str(0x00080016, "UI", j.inst.SOPClassUID)
	d.str(0x00080018, "UI", j.inst.SOPInstanceUID)
	d.str(0x00080020, "DA", st.Date)
	d.str(0x00080021, "DA", st.Date)
	d.str(0x00080022, "DA", st.Date)
	d.str(0x00080023, "DA", st.Date)
	d.str(0x00080030, "TM", st.Time)
	d.str(0x00080031, "TM", seriesTime)
	d.str(0x00080032, "TM", contentTime)
	d.str(0x00080033, "TM", contentTime)
	d.str(0x00080050, "SH", st.AccessionNumber)
	d.str(0x00080060, "CS", ss.modality)
	d.str(0x00080070, "LO", ps.manufacturer)
	text(d, 0x00080080, "LO", ps.institution)
	text(d, 0x00080090, "PN", st.ReferringPhysician)
	d.str(0x00081010, "SH", ps.station)
	text(d, 0x00081030, "LO", st.Description)
	text(d, 0x0008103E, "LO", ss.description)
	d.str(0x00081090, "LO", ps.model)

	// Patient.
	d.bytes(tagPatientName, "PN", pat.NameOnDisk)
	d.str(0x00100020, "LO", pat.ID)
	d.str(0x00100030, "DA", pat.BirthDate)
	d.str(0x00100040, "CS", pat.Sex)
	d.str(0x00101010, "AS", age(pat.BirthDate, st.Date))

	// Acquisition.
	d.str(0x00180015, "CS", ss.bodyPart)
	d.str(0x00180050, "DS", ds(ss.thickness))
	d.str(0x00181000, "LO", "4711"+pat.ID[:3])
	d.str(0x00181020, "LO", softwareVersion(ss.modality))
	text(d, 0x00181030, "LO", ss.protocol)
	d.str(0x00185100, "CS", "HFS")
	if ss.modality == "MR" {
		j.mrAttributes(d, g)
	} else {
		j.ctAttributes(d, g)
	}

	// Relationship, Frame of Reference, Image Plane.
	d.str(0x0020000D, "UI", st.InstanceUID)
	d.str(0x0020000E, "UI", j.series.InstanceUID)
	d.str(0x00200010, "SH", st.StudyID)
	d.str(0x00200011, "IS", strconv.Itoa(j.series.Number))
	d.str(0x00200012, "IS", strconv.Itoa(j.acqNo))
	d.str(0x00200013, "IS", strconv.Itoa(j.inst.Number))
	d.str(0x00200032, "DS", dsList(g.origin[:]...))
	d.str(0x00200037, "DS", dsList(append(g.rowDir[:], g.colDir[:]...)...))
	d.str(0x00200052, "UI", uidFrom(0, "frame-of-reference/"+st.InstanceUID+"/"+ss.modality))
	d.str(0x00201040, "LO", "")
	d.str(0x00201041, "DS", ds(j.position()))

	// Image Pixel, VOI LUT.
	d.us(0x00280002, 1)
	d.str(0x00280004, "CS", "MONOCHROME2")
	d.us(0x00280010, uint16(g.rows))
	d.us(0x00280011, uint16(g.cols))
	d.str(0x00280030, "DS", dsList(g.spacing, g.spacing))
	d.us(0x00280100, 16)
	d.us(0x00280101, bitsStored)
	d.us(0x00280102, bitsStored-1)
	d.us(0x00280103, 0)
	wc, ww := window(ss)
	d.str(0x00281050, "DS", ds(wc))
	d.str(0x00281051, "DS", ds(ww))
	return d
}

func (j *job) ctAttributes(d *dataset, g geometry) {
	ss := j.sspec
	if ss.contrast {
		d.str(0x00180010, "LO", "Imeron 350")
		d.str(0x00181040, "LO", "IV")
		d.str(0x00181041, "DS", "80")
	}
	d.str(0x00180060, "DS", "120")
	d.str(0x00180090, "DS", "500")
	d.str(0x00181100, "DS", ds(ctFOV))
	d.str(0x00181120, "DS", "0")
	d.str(0x00181130, "DS", "172")
	d.str(0x00181140, "CS", "CW")
	d.str(0x00181150, "IS", "500")
	d.str(0x00181151, "IS", strconv.Itoa(180+j.index%40))
	d.str(0x00181152, "IS", "95")
	d.str(0x00181160, "SH", "FILTER_B")
	d.str(0x00181170, "IS", "60")
	d.str(0x00181210, "SH", ss.kernel)
	d.str(0x00281052, "DS", ds(ctIntercept))
	d.str(0x00281053, "DS", "1")
	d.str(0x00281054, "LO", "HU")
}

func (j *job) mrAttributes(d *dataset, g geometry) {
	ss, m := j.sspec, j.sspec.mr
	d.str(0x00180020, "CS", m.scanningSequence)
	d.str(0x00180021, "CS", m.sequenceVariant)
	d.str(0x00180022, "CS", m.scanOptions)
	d.str(0x00180023, "CS", m.acquisitionType)
	d.str(0x00180024, "SH", m.sequenceName)
	d.str(0x00180025, "CS", "N")
	d.str(0x00180080, "DS", ds(m.tr))
	d.str(0x00180081, "DS", ds(m.te))
	if m.ti > 0 {
		d.str(0x00180082, "DS", ds(m.ti))
	}
	d.str(0x00180083, "DS", "1")
	d.str(0x00180084, "DS", "123.25")
	d.str(0x00180085, "SH", "1H")
	d.str(0x00180086, "IS", "1")
	d.str(0x00180087, "DS", "3")
	d.str(0x00180088, "DS", ds(spacingBetween(ss, j.count)))
	d.str(0x00180091, "IS", strconv.Itoa(m.echoTrain))
	d.str(0x00180095, "DS", "200")
	d.str(0x00181250, "SH", "Head_32")
	d.us(0x00181310, 0, uint16(g.cols), uint16(g.rows), 0)
	d.str(0x00181312, "CS", "ROW")
	d.str(0x00181314, "DS", ds(m.flip))
	d.str(0x00181316, "DS", "0.5")
}

func spacingBetween(ss *seriesSpec, n int) float64 {
	if n < 2 {
		return ss.thickness
	}
	s := (ss.to - ss.from) / float64(n-1)
	if s < 0 {
		s = -s
	}
	return s
}

func imageType(ss *seriesSpec) string {
	switch {
	case ss.modality == "MR":
		return `ORIGINAL\PRIMARY\M\ND`
	case ss.plane != axial:
		return `DERIVED\SECONDARY\REFORMATTED`
	}
	return `ORIGINAL\PRIMARY\AXIAL`
}

func softwareVersion(modality string) string {
	if modality == "MR" {
		return "syngo MR E11"
	}
	return "syngo CT VA48A"
}

func window(ss *seriesSpec) (center, width float64) {
	switch {
	case ss.modality == "MR":
		return 600, 1200
	case ss.kernel == "Bl64f":
		return -600, 1200
	}
	return 40, 400
}

// fracTime adds i tenths of a second to an HHMMSS time: HHMMSS.ffffff.
func fracTime(hhmmss string, i int) string {
	h, _ := strconv.Atoi(hhmmss[0:2])
	m, _ := strconv.Atoi(hhmmss[2:4])
	s, _ := strconv.Atoi(hhmmss[4:6])
	tenths := (h*3600+m*60+s)*10 + i
	tenths = min(tenths, (24*3600-1)*10+9)
	sec := tenths / 10
	return fmt.Sprintf("%02d%02d%02d.%d00000", sec/3600, sec/60%60, sec%60, tenths%10)
}

// age is the Patient's Age (AS) on the study date, e.g. "066Y".
func age(birth, on string) string {
	by, _ := strconv.Atoi(birth[0:4])
	oy, _ := strconv.Atoi(on[0:4])
	years := oy - by
	if on[4:] < birth[4:] {
		years--
	}
	return fmt.Sprintf("%03dY", years)
}

// encodeText encodes a text value in the patient's character set.
func encodeText(characterSet, s string) []byte {
	if characterSet == "ISO_IR 100" {
		return latin1(s)
	}
	return []byte(s)
}
