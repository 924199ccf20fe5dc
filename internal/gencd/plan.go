package gencd

import (
	"fmt"
	"math/rand/v2"
)

// plane is the orientation of a series' images.
type plane int

const (
	axial plane = iota
	coronal
	sagittal
)

// seriesSpec describes one series of the catalogue; the number of images
// comes from its weight.
type seriesSpec struct {
	modality    string
	description string
	bodyPart    string
	protocol    string
	weight      int     // share of the files (the realistic slice count at 2000 files)
	plane       plane   //
	from, to    float64 // coverage along the plane normal, mm
	thickness   float64 // nominal slice thickness, mm
	kernel      string  // CT convolution kernel
	contrast    bool    // CT: venous phase with contrast agent
	noise       float64 // noise standard deviation (HU or MR units)
	mr          *mrSequence
}

// mrSequence holds the MR acquisition attributes and tissue contrast.
type mrSequence struct {
	scanningSequence, sequenceVariant, scanOptions string
	acquisitionType, sequenceName                  string
	tr, te, ti, flip                               float64
	echoTrain                                      int
	tissue                                         map[tissue]float64
}

type studySpec struct {
	description string
	bodyPart    string
	series      []seriesSpec
}

type patientSpec struct {
	name         string // UTF-8, PN with ^
	birthDate    string
	sex          string
	characterSet string // "ISO_IR 100" or "ISO_IR 192"
	institution  string
	referring    string
	manufacturer string
	model        string
	station      string
	studies      []studySpec
}

// catalogue is the fixed content of the CD: two patients, three studies,
// ten series. Names and descriptions carry umlauts on purpose.
func catalogue() []patientSpec {
	ctThorax := []seriesSpec{
		{modality: "CT", description: "Thorax 5.0 Br40 nativ", bodyPart: "CHEST", protocol: "Thorax nativ", weight: 60, plane: axial, from: -80, to: -380, thickness: 5, kernel: "Br40f", noise: 8},
		{modality: "CT", description: "Thorax 1.0 Bl64 Lunge", bodyPart: "CHEST", protocol: "Thorax nativ", weight: 300, plane: axial, from: -80, to: -380, thickness: 1, kernel: "Bl64f", noise: 22},
		{modality: "CT", description: "Thorax 1.0 Br40 Weichteil", bodyPart: "CHEST", protocol: "Thorax nativ", weight: 300, plane: axial, from: -80, to: -380, thickness: 1, kernel: "Br40f", noise: 14},
		{modality: "CT", description: "Thorax cor 3.0 Br40", bodyPart: "CHEST", protocol: "Thorax nativ", weight: 80, plane: coronal, from: -100, to: 100, thickness: 3, kernel: "Br40f", noise: 10},
	}
	ctAbdomen := []seriesSpec{
		{modality: "CT", description: "Abdomen nativ 5.0 Br40", bodyPart: "ABDOMEN", protocol: "Abdomen biphasisch", weight: 80, plane: axial, from: -300, to: -700, thickness: 5, kernel: "Br40f", noise: 8},
		{modality: "CT", description: "Abdomen venös 5.0 Br40", bodyPart: "ABDOMEN", protocol: "Abdomen biphasisch", weight: 80, plane: axial, from: -300, to: -700, thickness: 5, kernel: "Br40f", contrast: true, noise: 8},
		{modality: "CT", description: "Abdomen venös 1.0 Br40", bodyPart: "ABDOMEN", protocol: "Abdomen biphasisch", weight: 400, plane: axial, from: -300, to: -700, thickness: 1, kernel: "Br40f", contrast: true, noise: 14},
	}
	mrHead := []seriesSpec{
		{modality: "MR", description: "t2_tse_tra_5mm", bodyPart: "HEAD", protocol: "t2_tse_tra", weight: 25, plane: axial, from: -50, to: 90, thickness: 5, noise: 12, mr: &mrSequence{
			scanningSequence: "SE", sequenceVariant: `SK\SP\OSP`, scanOptions: "PFP", acquisitionType: "2D", sequenceName: "*tse2d1_15",
			tr: 6000, te: 98, flip: 150, echoTrain: 15,
			tissue: map[tissue]float64{fat: 620, bone: 25, csf: 1450, gray: 760, white: 480, scalp: 650},
		}},
		{modality: "MR", description: "t2_tirm_tra_dark-fluid", bodyPart: "HEAD", protocol: "t2_tirm_tra_dark-fluid", weight: 25, plane: axial, from: -50, to: 90, thickness: 5, noise: 12, mr: &mrSequence{
			scanningSequence: `SE\IR`, sequenceVariant: `SK\SP\MP`, scanOptions: `IR`, acquisitionType: "2D", sequenceName: "*tir2d1_16",
			tr: 9000, te: 81, ti: 2500, flip: 150, echoTrain: 16,
			tissue: map[tissue]float64{fat: 480, bone: 20, csf: 70, gray: 640, white: 420, scalp: 500},
		}},
		{modality: "MR", description: "t1_mprage_sag_1mm", bodyPart: "HEAD", protocol: "t1_mprage_sag", weight: 176, plane: sagittal, from: -72, to: 72, thickness: 1, noise: 15, mr: &mrSequence{
			scanningSequence: `GR\IR`, sequenceVariant: `SK\SP\MP`, scanOptions: `IR`, acquisitionType: "3D", sequenceName: "*tfl3d1_16ns",
			tr: 2300, te: 2.98, ti: 900, flip: 9, echoTrain: 1,
			tissue: map[tissue]float64{fat: 1150, bone: 60, csf: 160, gray: 520, white: 780, scalp: 1100},
		}},
	}
	return []patientSpec{
		{
			name: "Müller^Jürgen", birthDate: "19580214", sex: "M", characterSet: "ISO_IR 100",
			institution: "Radiologie am Schloßplatz", referring: "Schäfer^Günther^^Dr. med.",
			manufacturer: "SIEMENS", model: "SOMATOM Definition AS", station: "CTAWP91234",
			studies: []studySpec{
				{description: "CT Thorax nativ", bodyPart: "CHEST", series: ctThorax},
				{description: "CT Abdomen/Becken venös", bodyPart: "ABDOMEN", series: ctAbdomen},
			},
		},
		{
			name: "Weiß^Zoë", birthDate: "19910723", sex: "F", characterSet: "ISO_IR 192",
			institution: "MVZ Neuroradiologie Köln-Süd", referring: "Øberg^Åsa^^Dr.",
			manufacturer: "SIEMENS", model: "MAGNETOM Skyra", station: "MRC45678",
			studies: []studySpec{
				{description: "MRT Schädel nativ", bodyPart: "HEAD", series: mrHead},
			},
		},
	}
}

// seriesCount is the number of series in the catalogue (the minimum file count).
func seriesCount(cat []patientSpec) int {
	n := 0
	for _, p := range cat {
		for _, s := range p.studies {
			n += len(s.series)
		}
	}
	return n
}

// seriesWeights lists the weight of every series of cat, in catalogue
// order (the order distribute's shares are used in).
func seriesWeights(cat []patientSpec) []int {
	var weights []int
	for _, p := range cat {
		for _, st := range p.studies {
			for _, se := range st.series {
				weights = append(weights, se.weight)
			}
		}
	}
	return weights
}

// distribute splits total files over weights: every share at least 1, the
// rest proportional by the largest-remainder method (deterministic).
func distribute(total int, weights []int) []int {
	out := make([]int, len(weights))
	rest := total - len(weights)
	sum := 0
	for _, w := range weights {
		sum += w
	}
	type rem struct{ i, r int }
	rems := make([]rem, len(weights))
	given := 0
	for i, w := range weights {
		share := rest * w / sum
		out[i] = 1 + share
		given += share
		rems[i] = rem{i, rest * w % sum}
	}
	for left := rest - given; left > 0; left-- {
		best := 0
		for j := range rems {
			if rems[j].r > rems[best].r {
				best = j
			}
		}
		out[rems[best].i]++
		rems[best].r = -1
	}
	return out
}

// studyClock holds the per-study values drawn from the seed.
type studyClock struct {
	date, time string
}

// drawDate returns a date in 2024–2025 and a time in office hours.
func drawDate(rng *rand.Rand) studyClock {
	day := rng.IntN(700)
	y, m, d := 2024, 1, 1+day
	for {
		n := daysIn(y, m)
		if d <= n {
			break
		}
		d -= n
		m++
		if m > 12 {
			m, y = 1, y+1
		}
	}
	return studyClock{
		date: fmt.Sprintf("%04d%02d%02d", y, m, d),
		time: fmt.Sprintf("%02d%02d%02d", 7+rng.IntN(10), rng.IntN(60), rng.IntN(60)),
	}
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

func digits(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	b[0] = byte('1' + rng.IntN(9))
	for i := 1; i < n; i++ {
		b[i] = byte('0' + rng.IntN(10))
	}
	return string(b)
}
