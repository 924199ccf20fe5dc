package pdi

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/bildbote/bildbote/internal/testkit/corpus"
)

func encode(t *testing.T, els ...element) []byte {
	t.Helper()
	b, err := appendElements(nil, els)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Test vectors for the element encoder, byte for byte (PS3.5 7.1.2).
func TestEncodeElements(t *testing.T) {
	for _, tc := range []struct {
		name string
		el   element
		want []byte
	}{
		{"UI odd padded with NUL", uidElement(tagTransferSyntax, "1.2.840.10008.1.2"),
			[]byte("\x02\x00\x10\x00UI\x12\x001.2.840.10008.1.2\x00")},
		{"CS odd padded with space", textElement(tagRecordType, "CS", []byte("IMAGE")),
			[]byte("\x04\x00\x30\x14CS\x06\x00IMAGE ")},
		{"empty text", textElement(tagAccessionNumber, "SH", nil),
			[]byte("\x08\x00\x50\x00SH\x00\x00")},
		{"UL", ulElement(tagNextRecord, 0x01020304),
			[]byte("\x04\x00\x00\x14UL\x04\x00\x04\x03\x02\x01")},
		{"US", usElement(tagRecordInUse, 0xFFFF),
			[]byte("\x04\x00\x10\x14US\x02\x00\xff\xff")},
		{"OB long form", obElement(tagMetaVersion, []byte{0, 1}),
			[]byte("\x02\x00\x01\x00OB\x00\x00\x02\x00\x00\x00\x00\x01")},
		{"SQ defined length, one item", sqElement(tagConceptNameCodeSeq, []element{textElement(tagCodeValue, "SH", []byte("1"))}),
			[]byte("\x40\x00\x43\xa0SQ\x00\x00\x12\x00\x00\x00" + "\xfe\xff\x00\xe0\x0a\x00\x00\x00" + "\x08\x00\x00\x01SH\x02\x001 ")},
		{"SQ empty", sqElement(tagConceptNameCodeSeq),
			[]byte("\x40\x00\x43\xa0SQ\x00\x00\x00\x00\x00\x00")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := encode(t, tc.el)
			if !bytes.Equal(got, tc.want) {
				t.Errorf("got  % x\nwant % x", got, tc.want)
			}
			if len(got) != tc.el.size() {
				t.Errorf("size() = %d, encoded %d", tc.el.size(), len(got))
			}
		})
	}
}

func TestEncodeOrderAndLimits(t *testing.T) {
	got := encode(t, uidElement(tagStudyInstanceUID, "1.2"), textElement(tagModality, "CS", []byte("CT")))
	if binary.LittleEndian.Uint16(got[0:]) != 0x0008 {
		t.Errorf("elements not in tag order: % x", got)
	}
	if _, err := appendElements(nil, []element{{tag: tagStudyDescription, vr: "LO", value: make([]byte, 0x10000)}}); err == nil {
		t.Error("a 64 KiB value in a 16-bit length VR was accepted")
	}
	if _, err := appendElements(nil, []element{{tag: tagStudyDescription, vr: "LO", value: []byte("odd")}}); err == nil {
		t.Error("an odd value length was accepted")
	}
}

func TestRecordCharset(t *testing.T) {
	for _, tc := range []struct {
		name, text, charset string
		bytes               []byte
	}{
		{"ASCII", "Doe^John", charsetLatin1, []byte("Doe^John")},
		{"German", "Müller^Jürgen Groß", charsetLatin1, []byte("M\xfcller^J\xfcrgen Gro\xdf")},
		{"Polish", "Łukasz^Wałęsa", charsetUTF8, []byte("Łukasz^Wałęsa")},
		{"Chinese", "Wang^XiaoDong=王^小東", charsetUTF8, []byte("Wang^XiaoDong=王^小東")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := encode(t, recordElements([]key{{tag: tagPatientName, vr: "PN", text: tc.text}})...)
			if !bytes.Contains(b, []byte(tc.charset)) || !bytes.Contains(b, tc.bytes) {
				t.Errorf("got % q, want %s and %q", b, tc.charset, tc.bytes)
			}
		})
	}
	// a record without text (IMAGE: Instance Number only) has no charset
	b := encode(t, recordElements([]key{{tag: tagInstanceNumber, vr: "IS", text: "7"}})...)
	if bytes.Contains(b, []byte("ISO_IR")) {
		t.Errorf("IMAGE record with a Specific Character Set: % q", b)
	}
}

func TestCleanText(t *testing.T) {
	for _, tc := range []struct{ vr, in, want string }{
		{"LO", "first\\second", "first"},
		{"LO", " padded \x00", "padded"},
		{"LO", "tab\there", "tab here"},
		{"CS", "ct-scan", "CT_SCAN"},
		{"SH", "12345678901234567890", "1234567890123456"},
		{"IS", " 42 ", "42"},
		{"DA", "2004.01.19", "2004.01."}, // cut to 8; cleanDate rejects it
		{"ST", "a\\b", "a\\b"},
	} {
		if got := cleanText(tc.vr, tc.in); got != tc.want {
			t.Errorf("cleanText(%s, %q) = %q, want %q", tc.vr, tc.in, got, tc.want)
		}
	}
	if cleanDate("2004.01.19") != "" || cleanDate("20040119") != "20040119" {
		t.Error("cleanDate")
	}
	for in, want := range map[string]string{"072730": "072730", "0727": "0727", "072730.123": "072730.123", "7:27": "", "072730.": "072730"} {
		if got := cleanTime(in); got != want {
			t.Errorf("cleanTime(%q) = %q, want %q", in, got, want)
		}
	}
	if got := fileSetID("Praxis Dr. Müller, 2026"); got != "PRAXIS_DR__M_LLE" {
		t.Errorf("fileSetID = %q", got)
	}
}

func TestDisplayName(t *testing.T) {
	for in, want := range map[string]string{
		"Äneas^Rüdiger":       "Äneas, Rüdiger",
		"Doe^John^Q^Dr.^Jr":   "Doe, Dr. John Q Jr",
		"Wang^XiaoDong=王^小東=": "Wang, XiaoDong (王, 小東)",
		"":                    "",
		"Anonymized":          "Anonymized",
	} {
		if got := displayName(in); got != want {
			t.Errorf("displayName(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSourceHeader feeds arbitrary bytes to the meta and key readers: they
// must fail cleanly, never panic, and never read or allocate beyond the
// input's size.
func FuzzSourceHeader(f *testing.F) {
	for _, name := range []string{"CT_small.dcm", "test-SR.dcm", "rtplan.dcm", "ExplVR_BigEnd.dcm", "image_dfl.dcm", "no_meta.dcm", "meta_missing_tsyntax.dcm"} {
		data, err := os.ReadFile(corpus.PydicomFile(f, name))
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 8192 {
			data = data[:8192]
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		m, err := readSourceMeta(br)
		if err != nil {
			return
		}
		if m.dataStart > int64(len(data)) {
			t.Fatalf("data set starts at %d of %d bytes", m.dataStart, len(data))
		}
		for _, ts := range []string{m.ts, uidImplicitVRLE, uidExplicitVRBE} {
			br := bufio.NewReader(bytes.NewReader(data[m.dataStart:]))
			k, err := readDatasetKeys(br, ts, int64(len(data))-m.dataStart)
			if err == nil && ts != uidDeflatedExplicitVRLE {
				for tg, v := range k.values {
					if len(v) > 2*len(data) { // Latin-1 → UTF-8 at most doubles
						t.Fatalf("%v: %d-byte value from %d bytes of input", tg, len(v), len(data))
					}
				}
			}
		}
	})
}
